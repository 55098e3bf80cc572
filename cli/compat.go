package cli

import (
	"net/http"

	"github.com/olctl/olctl/client"
)

// The helpers of the commands not yet built by a NewCmd… of their own.

func (f *Factory) httpClient() *http.Client {
	hc, err := f.HTTPClient()
	if err != nil {
		return &http.Client{}
	}
	return hc
}

func (f *Factory) newClient(extra ...client.Option) (*client.Client, *Config, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	c, err := f.Client(extra...)
	if err != nil {
		return nil, nil, err
	}
	return c, cfg, nil
}

func (f *Factory) clientOptions(cfg *Config, extra ...client.Option) ([]client.Option, error) {
	opts, err := clientOptions(cfg, f.httpClient(), f.Clock)
	if err != nil {
		return nil, err
	}
	return append(opts, extra...), nil
}

func (f *Factory) printer() (printer, error) {
	cfg, err := f.Config()
	if err != nil {
		return printer{}, err
	}
	return newPrinter(f.IO, cfg), nil
}
