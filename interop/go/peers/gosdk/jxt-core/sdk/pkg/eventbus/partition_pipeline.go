package eventbus

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
)

// commitDecision 是 decideCommitable 的纯逻辑判定结果（无网络 I/O）。
type commitDecision int

const (
	commitSuccess      commitDecision = iota // → commitable=true
	commitRegularFail                        // 普通消息失败 → commitable=true（at-most-once，丢弃）
	commitEnvelopeFail                       // Envelope 终态失败 → 异步 DLQ
)

// inflightEntry 一条在飞消息的协调状态（仅主 goroutine 访问）。
type inflightEntry struct {
	msg        *sarama.ConsumerMessage
	isEnvelope bool
	settled    bool // handler 已完成（已拿到结果）
	dlqPending bool // Envelope 终态失败、异步 DLQ 进行中
	commitable bool // 可推进前沿（成功 / 普通失败 / DLQ 成功）；纯失败 Envelope=false
}

// completion 是 handler 完成事件（经 bridge 搬运进 compCh）。
type completion struct {
	offset   int64
	err      error
	canceled bool // ⭐ 决策 1-A：bridge 在 ctx.Done 后补捞转发时置 true；据此判定「取消、留待重投递」，不嗅探错误类型
}

// dlqResult 是异步 DLQ 投递的回送结果。
type dlqResult struct {
	offset int64
	ok     bool  // DLQ 投递成功=true（→commitable）；失败=false（→策略 A 阻塞前沿 + 告警）
	cause  error // 失败原因：p.dlq==nil 时为「未配置 DLQ」；否则为 Send 返回的 error。随告警上报，便于排查
}

// decideCommitable 只做纯逻辑判定（无网络 I/O）。
func decideCommitable(e *inflightEntry, err error) commitDecision {
	if err == nil {
		return commitSuccess
	}
	if e.isEnvelope {
		return commitEnvelopeFail
	}
	return commitRegularFail
}

// poolSubmitter 把消息异步提交给 actor pool（生产=HollywoodActorPool，测试=fake）。
type poolSubmitter interface {
	ProcessMessage(ctx context.Context, msg *AggregateMessage) error
}

// offsetMarker 只暴露 MarkMessage（sarama.ConsumerGroupSession 的窄适配）。
type offsetMarker interface {
	MarkMessage(msg *sarama.ConsumerMessage, metadata string)
}

// PoisonMessage 跨 broker 的毒消息抽象（DLQSender / PoisonAlerter 契约）。
// 不把 *sarama.ConsumerMessage 泄漏到调用方（六边形架构：基础设施类型不出域）。
// 调用方据此把毒消息重发到自家 DLQ topic，无需依赖 sarama。
type PoisonMessage struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []MessageHeader // C6: 原为 map[string]string（丢序+合并重复 key），改为保真切片
	Timestamp time.Time       // C6: 新增 broker 消息时间戳；toPoisonMessage 现填此字段
}

// toPoisonMessage 把 sarama 消息转成 PoisonMessage（边界转换，仅流水线内部用）。
func toPoisonMessage(msg *sarama.ConsumerMessage) PoisonMessage {
	return PoisonMessage{
		Topic:     msg.Topic,
		Partition: msg.Partition,
		Offset:    msg.Offset,
		Key:       append([]byte(nil), msg.Key...),
		Value:     append([]byte(nil), msg.Value...),
		Headers:   saramaToMessageHeaders(msg.Headers),
		Timestamp: msg.Timestamp,
	}
}

// DLQSender 死信投递（jxt-core 自定义接口；各服务把自家 DLQService 适配进来）。
// cause=处理失败原因（实现方应作为 header/字段保留，便于死信下游排查）。
// 返回 error：nil=投递成功（→推进前沿）；非 nil=投递失败（→策略 A 阻塞前沿 + 告警）。
type DLQSender interface {
	Send(ctx context.Context, msg PoisonMessage, cause error) error
}

// PoisonAlerter 毒消息告警（策略 A：DLQ 失败 / 未配置 DLQ 时的 Envelope 终态失败）。
// 导出：各服务可注入 metrics / PagerDuty / 自家告警通道。
// 默认实现见 kafka.go 的 loggerPoisonAlerter（用 eventbus 自带 logger，永不静默）。
type PoisonAlerter interface {
	AlertPoisonMessage(msg PoisonMessage, cause error)
}

// noopAlerter 构造期地板：测试或未注入时的占位（生产路径由 consumeWithPipeline 注入 loggerPoisonAlerter）。
type noopAlerter struct{}

func (noopAlerter) AlertPoisonMessage(PoisonMessage, error) {}

// partitionPipeline 单分区内消费流水线协调器（全部可变状态由 run() 主 goroutine 持有）。
type partitionPipeline struct {
	cfg         PipelineConfig
	pool        poolSubmitter
	dlq         DLQSender                                       // 可为 nil（无 DLQ 时 envelope 失败直接策略 A 阻塞）
	alert       PoisonAlerter                                   // 默认 noopAlerter（构造期地板）；生产路径由 consumeWithPipeline 注入 loggerPoisonAlerter
	log         *zap.Logger                                     // 可为 nil（nil 时停滞告警静默）；生产路径由 consumeWithPipeline 注入 eventbus logger
	buildAggMsg func(*sarama.ConsumerMessage) *AggregateMessage // kafka.go 注入：构造含 Done 的 AggregateMessage
	// 停滞指标 seam 入参（PR-0）：consumeWithPipeline 在构造后写入。空 topic 时 seam 自动 no-op
	// （空-topic 守卫，review 2026-07-26）。stalling 追踪 stall-enter 上升沿，monotonic Counter 单次触发。
	topic     string
	partition int32
	stalling  bool
}

// newPartitionPipeline 构造协调器并分配两个 chan。
// ⭐ buffer 硬约束（设计 §4.3）：两个 chan 容量都必须 == windowSize，且与 windowSize 同行分配，防漂移。
func newPartitionPipeline(cfg PipelineConfig, sessionTimeout time.Duration) (*partitionPipeline, chan completion, chan dlqResult) {
	if err := cfg.validate(sessionTimeout); err != nil {
		panic(fmt.Sprintf("partition pipeline config invalid: %v", err))
	}
	compCh := make(chan completion, cfg.WindowSize)   // 同行分配，杜绝单独配置漂移
	dlqDoneCh := make(chan dlqResult, cfg.WindowSize) // 同行分配，杜绝单独配置漂移
	if cap(compCh) < cfg.WindowSize || cap(dlqDoneCh) < cfg.WindowSize {
		panic(fmt.Sprintf("buffer invariant violated: compCh=%d dlqDoneCh=%d windowSize=%d", cap(compCh), cap(dlqDoneCh), cfg.WindowSize))
	}
	return &partitionPipeline{cfg: cfg, alert: noopAlerter{}}, compCh, dlqDoneCh
}

// advanceFrontier 推进连续前缀，返回推进段最高位 msg（供 mark-once）。仅主 goroutine 调用，纯 map 操作。
// 停于：未到达 / 未 settled / DLQ 进行中（dlqPending）/ 不可提交（commitable=false，策略 A 阻塞点）。
func advanceFrontier(inflight map[int64]*inflightEntry, frontier *int64) *sarama.ConsumerMessage {
	var last *sarama.ConsumerMessage
	for {
		fe, ok := inflight[*frontier]
		if !ok || !fe.settled || fe.dlqPending || !fe.commitable {
			break
		}
		last = fe.msg
		delete(inflight, *frontier)
		*frontier++
	}
	return last
}

// forwardCompletion 是每条消息的「无状态 bridge」：把该消息的 Done chan 搬进固定 compCh。
// ⭐ 决策 1-A：防止「done 已就绪 + ctx 同时触发」时 select 随机取 ctx.Done 而丢弃一个已完成的 completion。
//
//	做法：ctx 触发后再补一次非阻塞 drain——done 有值必捞起转发并置 canceled=true；done 空才放弃（留待重投递）。
//
// 调用契约：compCh 容量 >= 最大在飞数（构造期保证），故 compCh <- 永不阻塞。
func forwardCompletion(ctx context.Context, off int64, done <-chan error, compCh chan<- completion) {
	select {
	case err := <-done:
		// ⭐ 决策 1-A：done 与 ctx.Done 同时就绪时，外层 select 可能随机取到本分支。
		//   只要 ctx 已取消，就按「取消后补捞」语义标记 canceled=true（与 ctx.Done 分支一致）。
		canceled := false
		if ctx.Err() != nil {
			canceled = true
		}
		compCh <- completion{offset: off, err: err, canceled: canceled} // 正常完成（或竞态补捞）
	case <-ctx.Done():
		select { // ⭐ 非阻塞补捞：堵住「已知完成却被随机丢弃」的竞态窗口
		case err := <-done:
			compCh <- completion{offset: off, err: err, canceled: true} // ctx 取消后补捞 → canceled=true
		default:
			// done 仍空（handler 还在跑）→ 放弃转发，该消息从 frontier 重投递；同时防止 bridge 在 hung handler 上永久驻留
		}
	}
}

// sendDLQ 在独立于 session 的 ctx 上异步投递 DLQ，结果经 dlqDoneCh 回送（事件循环零网络 I/O）。
// ⭐ 用 context.Background() + dlqTimeout：rebalance/关闭不打断在飞 DLQ（设计 §4.3/T15），
//
//	避免「ctx 取消 → ok=false → 误告警毒消息」竞态。代价：DLQ goroutine 生命周期由 dlqTimeout 界定，
//	dlqTimeout × windowSize 上界保证有界、不泄漏。
//
// cause=原始处理失败原因，随 DLQ 投递一并传给实现方（便于死信记录诊断）。
// 若 p.dlq == nil（未配置 DLQ），回送 ok=false + cause="DLQ 未配置"（→ 策略 A 阻塞 + 告警，
// 告警原因直接指出「漏接 DLQ」，便于运维定位）。
func sendDLQ(p *partitionPipeline, off int64, msg *sarama.ConsumerMessage, cause error, dlqDoneCh chan<- dlqResult) {
	go func() {
		if p.dlq == nil {
			dlqDoneCh <- dlqResult{offset: off, ok: false, cause: fmt.Errorf("DLQ not configured for topic %s (envelope subscription has no DLQSender)", msg.Topic)}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.DLQTimeout)
		defer cancel()
		err := p.dlq.Send(ctx, toPoisonMessage(msg), cause) // 网络 I/O 在事件循环外，自带退避重试由实现负责
		dlqDoneCh <- dlqResult{offset: off, ok: err == nil, cause: err}
	}()
}

// flush 在主循环 ctx.Done 后限时冲刷。同时 drain compCh 与 dlqDoneCh，提交可推进的连续前缀；
// 超时即返回，未 resolved 的留给 rebalance 重投递。冲刷期不新起 DLQ（Envelope 业务失败一律留待重投递）。
//
// ⭐ 决策 1-A / §4.6：据 completion.canceled 正向信号判定「取消」，不嗅探错误类型。
//
// 注：本函数在 ctx.Done 分支运行，此时 session 已在被取消；sarama 可能丢弃取消后到达的 MarkMessage，
// 故冲刷期提交为「尽力而为」——未生效的提交由下次 claim 的 rebalance 重投递覆盖（at-least-once 可接受）。
func flush(
	marker offsetMarker,
	inflight map[int64]*inflightEntry,
	frontier *int64,
	compCh <-chan completion,
	dlqDoneCh <-chan dlqResult,
	alert PoisonAlerter,
	timeout time.Duration,
) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()

	unresolved := func() int { // 未 settled 或 DLQ 进行中
		n := 0
		for _, e := range inflight {
			if !e.settled || e.dlqPending {
				n++
			}
		}
		return n
	}
	commit := func() { // 推进连续前缀 + mark-once
		if last := advanceFrontier(inflight, frontier); last != nil {
			marker.MarkMessage(last, "")
		}
	}

drain:
	for unresolved() > 0 {
		select {
		case c := <-compCh:
			e := inflight[c.offset]
			if e == nil || e.settled {
				continue // nil 守卫 + 幂等
			}
			e.settled = true
			// ⭐ 区分 ctx 取消 vs 业务失败：用正向信号 c.canceled（不嗅探错误类型）；冲刷期 Envelope 失败不起 DLQ，留待重投递
			if c.canceled {
				e.commitable = false
			} else {
				switch decideCommitable(e, c.err) {
				case commitSuccess, commitRegularFail:
					e.commitable = true
				case commitEnvelopeFail:
					e.commitable = false // 下次 claim 再走正常异步 DLQ 路径
				}
			}
			commit()
		case r := <-dlqDoneCh: // 拆除前已起的 DLQ 在此收尾
			e := inflight[r.offset]
			if e == nil {
				continue
			}
			e.dlqPending = false
			e.commitable = r.ok
			if !r.ok {
				alert.AlertPoisonMessage(toPoisonMessage(e.msg), r.cause) // 策略 A 强告警
			}
			commit()
		case <-timer.C:
			break drain // 超时：未 resolved 的留待重投递
		}
	}
}

// run 是 ConsumeClaim 的核心事件循环。全部可变状态（inflight/frontier）只在本 goroutine 修改，无锁。
// 背压惯用法：窗口满则 msgCh=nil，select 只处理完成事件，腾位后再读。
// ⭐ A1：compCh/dlqDoneCh 由调用方（newPartitionPipeline）分配并传入——单一分配点 = 单一 buffer 守护点，
//
//	避免「守护的是被丢弃的 chan、真正在用的无人校验」。
func (p *partitionPipeline) run(ctx context.Context, messages <-chan *sarama.ConsumerMessage, marker offsetMarker, compCh chan completion, dlqDoneCh chan dlqResult) error {
	inflight := map[int64]*inflightEntry{}
	var frontier int64 = -1 // 哨兵；收到首条消息时置为首条 offset
	closed := false         // messages chan 已关闭（claim 结束）：停读新消息，继续冲刷在飞项直到 inflight 清空
	// 策略 A 退出说明：若前沿被毒消息（commitable=false）阻塞，inflight 永不清空 → `closed && len(inflight)==0`
	// 不可达，run 改由 ctx.Done 分支返回（sarama 结束 claim 时取消 session ctx），毒消息留待下次 claim 重投递。

	// 慢 handler 停滞告警：窗口满（背压）且前沿停滞 ≥ StallWarnInterval → warn。与毒消息告警（p.alert）区分——
	// 毒消息是「单条永久失败」，停滞是「整窗被慢聚合 / actor 钉住、不推进」。StallWarnInterval<=0 或 nil log = 关闭
	// （注：配置层 0 已被 applyPipelineDefaults 补成默认 10s，故显式关闭须用负值）。
	var stallCh <-chan time.Time
	lastAdvance := time.Now()
	// lastRealAdvance 仅在 advanceFrontier 成功推进时刷新（review 2026-07-27，fix #4）。
	// 与 lastAdvance 分离：stall 分支会重置 lastAdvance 以抑制 warnStall 重复告警，
	// 若共用则 stall 指标永远爬不到 60s P1 阈值。lastRealAdvance 才是 stall Gauge 的真实计时基准。
	lastRealAdvance := lastAdvance
	if p.cfg.StallWarnInterval > 0 {
		stallTicker := time.NewTicker(p.cfg.StallWarnInterval)
		defer stallTicker.Stop()
		stallCh = stallTicker.C
	}

	for {
		var msgCh <-chan *sarama.ConsumerMessage = messages
		if closed || len(inflight) >= p.cfg.WindowSize {
			msgCh = nil // 背压（窗口满）或 claim 已结束：停读新消息
		}
		if closed && len(inflight) == 0 {
			return nil // claim 结束且在飞已全部 settle/推进：安全退出
		}

		select {
		case msg := <-msgCh:
			if msg == nil {
				closed = true // claim 结束；不立即 return：继续 drain 在飞完成/DLQ，避免丢弃未结算消息
				continue
			}
			if frontier < 0 {
				frontier = msg.Offset
			}
			aggMsg := p.buildAggMsg(msg)
			inflight[msg.Offset] = &inflightEntry{msg: msg, isEnvelope: aggMsg.IsEnvelope}
			_ = p.pool.ProcessMessage(ctx, aggMsg) // 异步，不等 Done。返回值仅 AggregateID=="" 时非 nil（buildAggMsg 的 RR 兜底已杜绝该情形）；inbox 满时 engine.Send 静默丢消息、不报 error，由 stall 告警覆盖 → 此处安全忽略
			// bridge：把这条的 Done 搬进 compCh（决策 1-A 非阻塞 drain）
			go forwardCompletion(ctx, msg.Offset, aggMsg.Done, compCh)

		case c := <-compCh:
			e := inflight[c.offset]
			if e == nil {
				continue
			}
			e.settled = true
			if c.canceled {
				e.commitable = false // ctx 取消：留待重投递
			} else {
				switch decideCommitable(e, c.err) {
				case commitSuccess, commitRegularFail:
					e.commitable = true
				case commitEnvelopeFail:
					e.dlqPending = true // 暂不可推进；异步 DLQ
					sendDLQ(p, c.offset, e.msg, c.err, dlqDoneCh)
				}
			}
			if last := advanceFrontier(inflight, &frontier); last != nil {
				marker.MarkMessage(last, "") // mark-once
				lastAdvance = time.Now()     // 前沿推进：重置停滞告警计时
				lastRealAdvance = lastAdvance // PR-0：stall Gauge 的真实推进计时
			}

		case r := <-dlqDoneCh:
			e := inflight[r.offset]
			if e == nil {
				continue
			}
			e.dlqPending = false
			e.commitable = r.ok
			if !r.ok {
				p.alert.AlertPoisonMessage(toPoisonMessage(e.msg), r.cause) // 策略 A：DLQ 失败强告警、不 re-submit
			}
			if last := advanceFrontier(inflight, &frontier); last != nil {
				marker.MarkMessage(last, "")
				lastAdvance = time.Now() // 前沿推进：重置停滞告警计时
				lastRealAdvance = lastAdvance // PR-0：stall Gauge 的真实推进计时
			}

		case <-stallCh:
			// METRIC 条件（review 2026-07-27，fix #4）：前沿不推进 且 有在飞。旧 `len(inflight) >= WindowSize`
			// 前置是「背压」信号——低流量下单条毒消息阻塞前沿（inflight < 32 command / < 64 query）会令
			// isStalled=false，Gauge 读 0（健康）、stall-enter Counter 不触发，而分区实际已卡死。这正是 PR-0
			// 要暴露的失败，故指标 MUST NOT 要求窗口满。
			//
			// 用 lastRealAdvance（仅 advanceFrontier 成功时刷新），NOT lastAdvance——stall 分支会重置 lastAdvance
			// 抑制 warnStall 重复告警，共用则 Gauge 永远爬不到 60s P1 阈值。
			//
			// TRADEOFF（final-review 2026-07-27）：Gauge 与 monotonic stall-enter Counter 共用本条件是
			// INTENTIONAL。默认 StallWarnInterval=10s（见 type.go applyPipelineDefaults）——对 evidence-ingestion，
			// 一个单 handler 停滞 ≥10s 即合法的 page-worthy 故障（毒消息钉死 actor / DB 完全卡死），故 Counter
			// 在此触发是正确的，Gauge 在此 set 也正确（且 Gauge 会随推进 reset 回 0）。Counter monotonic 不可逆：
			// 它「按设计」对每一次 stall-enter 上升沿都计数（含 rebalance 导致 Gauge blink 的恢复后重入），
			// 以便 P1 的 `for:` 60s 子句在 Gauge blink 时仍能照常累加。若运维遇到「持续慢流量下单 handler
			// 合法慢但健康（如批量取证长事务）」触发误告警，应调大 StallWarnInterval（type.go:
			// PipelineConfig.StallWarnInterval，>10s 抑制灵敏度）而非改本条件——条件本身没有 bug。
			elapsed := time.Since(lastRealAdvance)
			stalled := len(inflight) > 0 && elapsed >= p.cfg.StallWarnInterval
			if stalled {
				ReportPartitionStall(p.topic, p.partition, elapsed.Seconds())
				if !p.stalling {
					ReportPartitionStallEnter(p.topic, p.partition) // monotonic；rebalance 引发 Gauge blink 也不丢
					p.stalling = true
				}
			} else {
				ReportPartitionStall(p.topic, p.partition, 0)
				p.stalling = false
			}
			// 现有 BACKPRESSURE 日志：保留其自身的窗口满条件 + 重复抑制。
			if len(inflight) >= p.cfg.WindowSize && time.Since(lastAdvance) >= p.cfg.StallWarnInterval {
				p.warnStall(frontier, len(inflight))
				lastAdvance = time.Now()
			}
		case <-ctx.Done():
			flush(marker, inflight, &frontier, compCh, dlqDoneCh, p.alert, p.cfg.FlushTimeout)
			return nil
		}
	}
}

// warnStall 记录「窗口满且前沿停滞」的慢 handler 告警（nil log 时静默，便于测试与未注入路径）。
// 与毒消息告警（PoisonAlerter）刻意分离：毒消息是单条永久失败；停滞是整窗被慢聚合 / actor 钉住、不推进。
func (p *partitionPipeline) warnStall(frontier int64, inflight int) {
	if p.log == nil {
		return
	}
	p.log.Warn("partition pipeline stalled: window full and frontier not advancing (slow handler / hot aggregate pinning an actor)",
		zap.Int("windowSize", p.cfg.WindowSize),
		zap.Int("inflight", inflight),
		zap.Int64("frontier", frontier),
		zap.Duration("stallWarnInterval", p.cfg.StallWarnInterval),
	)
}
