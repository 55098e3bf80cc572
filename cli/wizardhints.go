package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WizardHints are where the connect wizard looks for defaults it can offer, on a terminal: an olctl serve,
// an olctl connector serve and an olctl bf serve. An empty field is not looked at; the zero value offers
// nothing.
type WizardHints struct {
	Receiver  string // base URL of a portal receiver: its /healthz answering offers it as the domain
	Server    string // base URL of a connector server: its /healthz answering offers it as the server
	BFControl string // control URL of a fake Bot Framework: its first bot is offered (GET /bots)
}

// envConnectProbe turns the wizard's look for running servers off (0) or on (1, the default).
const envConnectProbe = envPrefix + "CONNECT_PROBE"

// defaultWizardHints are the default listen addresses of serve, connector serve and bf serve's --control.
func defaultWizardHints() WizardHints {
	return WizardHints{Receiver: "http://127.0.0.1:8090", Server: "http://127.0.0.1:8080", BFControl: "http://127.0.0.1:3979"}
}

// wizardHintsOf returns the hints of the environment: the default addresses, or none with
// OLCTL_CONNECT_PROBE=0.
func wizardHintsOf(lookupEnv func(string) (string, bool)) (WizardHints, error) {
	v, ok := lookupEnv(envConnectProbe)
	if !ok || strings.TrimSpace(v) == "" {
		return defaultWizardHints(), nil
	}
	on, err := strconv.ParseBool(strings.TrimSpace(v))
	switch {
	case err != nil:
		return WizardHints{}, usageErrorf("%s=%q: want 1 or 0", envConnectProbe, v)
	case !on:
		return WizardHints{}, nil
	}
	return defaultWizardHints(), nil
}

// hintProbeTimeout bounds the look for running servers: the wizard's first question waits for it.
const hintProbeTimeout = 500 * time.Millisecond

// offered are the defaults the wizard found: "" (nil) for what does not answer.
type offered struct {
	Server, Domain string
	Bot            *bfBotJSON
}

// probe looks, at once and for at most hintProbeTimeout, for the servers of h.
func (h WizardHints) probe(ctx context.Context, hc *http.Client) offered {
	ctx, cancel := context.WithTimeout(ctx, hintProbeTimeout)
	defer cancel()
	var o offered
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if h.Server != "" && answers(ctx, hc, h.Server+"/healthz", nil) {
			o.Server = h.Server
		}
	}()
	go func() {
		defer wg.Done()
		if h.Receiver != "" && answers(ctx, hc, h.Receiver+"/healthz", nil) {
			o.Domain = h.Receiver
		}
	}()
	go func() {
		defer wg.Done()
		var bots []bfBotJSON
		if h.BFControl != "" && answers(ctx, hc, h.BFControl+"/bots", &bots) && len(bots) > 0 && bots[0].AppID != "" {
			o.Bot = &bots[0]
		}
	}()
	wg.Wait()
	return o
}

// answers reports whether a GET of u answers 200 (and, with v, a JSON body that decodes into it).
func answers(ctx context.Context, hc *http.Client, u string, v any) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(u, "/"), nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	if v == nil {
		return true
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(v) == nil
}
