module evbus.invalid/interop/go/peers/harness

go 1.26
