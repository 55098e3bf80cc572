package cli

import (
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/inspect"
)

// Environment variables of the run's switches that are not configuration keys.
const (
	envTrace  = envPrefix + "TRACE"
	envCAFile = envPrefix + "CA_FILE"
)

// addRunFlags adds the persistent flags of the run's transport: --trace, --ca-file and --insecure.
func addRunFlags(root *cobra.Command) {
	fs := root.PersistentFlags()
	fs.Bool("trace", false, "print every packet sent and received on stderr, decoded, secrets masked (env "+envTrace+"=1)")
	fs.String("ca-file", "", "trust the certificates of this PEM file too, for test servers (env "+envCAFile+")")
	fs.Bool("insecure", false, "do not verify the server's TLS certificate (test servers only)")
}

// traceWriter returns where packets are traced: errOut under --trace or OLCTL_TRACE=1, nil otherwise. The
// recorders of one run (the demo has two servers) share it, one write at a time.
func traceWriter(flags *pflag.FlagSet, lookupEnv func(string) (string, bool), errOut io.Writer) (io.Writer, error) {
	on := false
	if f := flags.Lookup("trace"); f != nil && f.Changed {
		on = f.Value.String() == "true"
	} else if v, ok := lookupEnv(envTrace); ok && strings.TrimSpace(v) != "" {
		var err error
		if on, err = strconv.ParseBool(strings.TrimSpace(v)); err != nil {
			return nil, usageErrorf("%s=%q: want 1 or 0", envTrace, v)
		}
	}
	if !on {
		return nil, nil
	}
	return &lockedWriter{w: errOut}, nil
}

// lockedWriter serialises the writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// newHTTPClient returns the client of the run's outgoing requests: the system's roots plus --ca-file, or no
// verification at all with --insecure.
func newHTTPClient(flags *pflag.FlagSet, lookupEnv func(string) (string, bool)) (*http.Client, error) {
	caFile := ""
	if f := flags.Lookup("ca-file"); f != nil && f.Changed {
		caFile = f.Value.String()
	} else if v, ok := lookupEnv(envCAFile); ok {
		caFile = strings.TrimSpace(v)
	}
	insecure := false
	if f := flags.Lookup("insecure"); f != nil {
		insecure = f.Value.String() == "true"
	}
	if caFile == "" && !insecure {
		return &http.Client{}, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // --insecure asks for it
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, usageErrorf("--ca-file: %v", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, usageErrorf("--ca-file %s: no PEM certificate in it", caFile)
		}
		tc.RootCAs = roots
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	return &http.Client{Transport: t}, nil
}

// traced returns a copy of hc whose transport writes every packet it carries to cfg.Trace (masking the
// configured credentials, and the values of secret keys in DATA), or hc itself when tracing is off.
func traced(hc *http.Client, cfg *Config, clk clock.Clock) *http.Client {
	if cfg.Trace == nil {
		return hc
	}
	rec := inspect.NewRecorder(inspect.Options{Packets: 1, Clock: clk, Secrets: traceSecrets(cfg), Trace: cfg.Trace})
	c := *hc
	c.Transport = rec.Outgoing(hc.Transport)
	return &c
}

// traceSecrets are the values a trace masks wherever they appear: the licence key, md5's shared secret
// md5hex(key) and the hmac secrets. BX_LICENCE, a hash of the key, is the portal's public identity.
func traceSecrets(cfg *Config) []string {
	out := append([]string{}, cfg.Secrets...)
	if cfg.LicenceKey != "" {
		sum := md5.Sum([]byte(cfg.LicenceKey))
		out = append(out, cfg.LicenceKey, hex.EncodeToString(sum[:]))
	}
	return out
}

// serverInspect returns the recorder options of a server's Config: the inspector's (--inspect), the
// trace's, both, or nil for neither. A trace alone keeps one packet: it only writes them.
func serverInspect(flags inspectFlags, cfg *Config) *inspect.Options {
	o := flags.options()
	if cfg.Trace == nil {
		return o
	}
	if o == nil {
		o = &inspect.Options{Packets: 1}
	}
	o.Trace = cfg.Trace
	return o
}
