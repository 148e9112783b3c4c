package locker

import (
	"context"
	"github.com/redis/go-redis/v9"
	"time"

	"github.com/bsm/redislock"
)

// NewRedis 初始化locker
func NewRedis(c *redis.Client) *Redis {
	return &Redis{
		client: c,
	}
}

type Redis struct {
	client *redis.Client
	mutex  *redislock.Client
}

func (Redis) String() string {
	return "redis"
}

func (r *Redis) Lock(key string, ttl int64, options *redislock.Options) (*redislock.Lock, error) {
	if r.mutex == nil {
		r.mutex = redislock.New(r.client)
	}
	return r.mutex.Obtain(context.TODO(), key, time.Duration(ttl)*time.Second, options)
}

// Close is a no-op — the locker shares Client #1 which is closed centrally
// via config.CloseAllRedisClients().
func (r *Redis) Close() error {
	return nil
}
