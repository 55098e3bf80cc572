package cli

import (
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/wire"
)

// clientOptions returns the client options of cfg, after checking that everything a signed call needs is
// configured (a missing value is a ConfigError naming its flag, variable and key).
func (f *Factory) clientOptions(cfg *Config, extra ...client.Option) ([]client.Option, error) {
	if err := cfg.Require(KeyServer, KeyDomain); err != nil {
		return nil, err
	}
	if err := cfg.RequireSigning(); err != nil {
		return nil, err
	}
	opts := []client.Option{
		client.WithDomain(cfg.Domain),
		client.WithLicenceKey(cfg.LicenceKey),
		client.WithTimeout(cfg.Timeout),
		client.WithHTTPClient(f.HTTPClient),
		client.WithClock(f.Clock),
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
	return append(opts, extra...), nil
}

// newClient builds the Output client of the run's configuration.
func (f *Factory) newClient(extra ...client.Option) (*client.Client, *Config, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	opts, err := f.clientOptions(cfg, extra...)
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(cfg.Server, opts...)
	if err != nil {
		return nil, nil, &UsageError{Err: err}
	}
	return c, cfg, nil
}
