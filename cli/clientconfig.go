package cli

import (
	"context"
	"net/http"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// clientOptions returns the client options of cfg on hc and clk, after checking that everything a signed call
// needs is configured (the missing values are one error naming each one's flag, variable and key).
func clientOptions(cfg *Config, hc *http.Client, clk clock.Clock) ([]client.Option, error) {
	if err := cfg.Require(cfg.signedCallKeys()...); err != nil {
		return nil, err
	}
	opts := []client.Option{
		client.WithDomain(cfg.Domain),
		client.WithLicenceKey(cfg.LicenceKey),
		client.WithProfile(cfg.Profile),
		client.WithRegion(cfg.Region),
		client.WithTimeout(cfg.Timeout),
		client.WithRetry(retryPolicy(cfg.Retries)),
		client.WithHTTPClient(traced(hc, cfg, clk)),
		client.WithClock(clk),
	}
	if cfg.Signing == wire.HMACSHA256 {
		opts = append(opts, client.WithSigning(wire.HMACSHA256, cfg.Secrets...))
	} else {
		opts = append(opts, client.WithSigning(wire.MD5))
	}
	if cfg.Connector != "" {
		opts = append(opts, client.WithConnector(cfg.Connector))
	}
	if cfg.Line != "" {
		opts = append(opts, client.WithLine(cfg.Line))
	}
	return opts, nil
}

// newClient builds the Output client of cfg on hc and clk, with extra options applied last.
func newClient(cfg *Config, hc *http.Client, clk clock.Clock, extra ...client.Option) (*client.Client, error) {
	opts, err := clientOptions(cfg, hc, clk)
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg.Server, append(opts, extra...)...)
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	return c, nil
}

// retryPolicy is the client's default retry policy with n retries.
func retryPolicy(n int) client.Retry {
	r := client.DefaultRetry()
	r.MaxRetries = n
	return r
}

// callContext bounds one remote call, its retries and their waits included, by the configured timeout.
func (c *Config) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.Timeout)
}
