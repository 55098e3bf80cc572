package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

// connectStep is one step of `olctl connect`.
type connectStep struct {
	Step      string   `json:"step"`
	Status    string   `json:"status"`
	LatencyMS float64  `json:"latency_ms"`
	Detail    string   `json:"detail,omitempty"`
	Codes     []string `json:"codes,omitempty"`
}

// connectReport is the JSON document of `olctl connect`.
type connectReport struct {
	OK         bool          `json:"ok"`
	Server     string        `json:"server"`
	Connector  string        `json:"connector"`
	Line       string        `json:"line"`
	Steps      []connectStep `json:"steps"`
	WebhookURL string        `json:"webhook_url"`
	// LineStatus is the line's status written into the portal database (absent with --db "").
	LineStatus *openlines.LineStatus `json:"line_status,omitempty"`
	// MovedFrom is the line the bot was moved from, which the connector server deactivates (absent when the
	// bot was on no other line).
	MovedFrom *lineRef `json:"moved_from,omitempty"`
	// SavedTo is the config file --save wrote (absent without --save).
	SavedTo string `json:"saved_to,omitempty"`
}

// lineRef names a line connector: its real connector id and its line.
type lineRef struct {
	Connector string `json:"connector"`
	Line      string `json:"line"`
}

// botFrameworkSettings are the settings the Bot Framework channel needs, in the order asked.
var botFrameworkSettings = []struct {
	Key, Flag, Label string
	Secret           bool
}{
	{"bot_handle", "bot-handle", "Bot handle", false},
	{"app_id", "app-id", "Microsoft App ID", false},
	{"app_secret", "app-secret", "Microsoft App password (secret)", true},
}

// ConnectOptions are the inputs of `olctl connect`.
type ConnectOptions struct {
	Context    context.Context
	IO         IO
	Config     func() (*Config, error)
	HTTPClient func() (*http.Client, error)
	Clock      clock.Clock

	// Yes never prompts nor asks for confirmation.
	Yes bool
	// BotFramework are the Bot Framework settings given by flags, by key (bot_handle, app_id, app_secret).
	BotFramework map[string]string
	// Set are other settings as key=value.
	Set []string
	// DB is the portal database where each step writes the line's status; "" writes none.
	DB string
	// Save writes the server, domain and licence key (and an hmac-sha256 secret) into the config file once
	// connected.
	Save bool
	// Hints are where the wizard, on a terminal, looks for running servers whose addresses and bot it
	// offers as defaults (Factory.WizardHints).
	Hints WizardHints
}

// NewCmdConnect builds `olctl connect`, the connect wizard.
func NewCmdConnect(f *Factory, runF func(*ConnectOptions) error) *cobra.Command {
	opts := &ConnectOptions{IO: f.IO, Config: f.Config, HTTPClient: f.HTTPClient, Clock: f.Clock, BotFramework: map[string]string{}}
	bf := map[string]*string{}
	cmd := &cobra.Command{
		Use:   "connect",
		Short: "Connect a line step by step: saveSettings, testConnect, register",
		Long: `Connect a connector of a line: the wizard asks for what is missing (server, domain, licence key, connector,
line and, for Bot Framework, the bot handle, app id and app secret; secrets are read without echo), then runs
saveSettings → testConnect → register with a line per step (✓/✗ and its time), and prints the webhook URL to
paste into the bot's settings.

Each step writes the line's status into the portal database (--db, the one 'olctl serve' reads; env
OLCTL_PORTAL_DB, default portal.db, which is also where 'olctl serve' keeps it): saveSettings, testConnect and
register set ACTIVE, CONNECTION and REGISTER in turn and clear ERROR once all three passed, so that the
receiving portal lets the line's messages in; a step that fails clears its flag and the later ones.

It never prompts when stdin is not a terminal or with --yes: then every value must come from flags, the
environment or the config file, and a missing one is a usage error (exit 2) naming them. On a terminal it
offers the defaults it can know: an 'olctl connector serve' and an 'olctl serve' answering at their default
addresses (127.0.0.1:8080, 127.0.0.1:8090) as the server and the domain, and the bot of an 'olctl bf serve'
(its --control, 127.0.0.1:3979) as the app id and secret; OLCTL_CONNECT_PROBE=0 turns that look off.

A bot (app id) that is connected on another line of the portal database moves: connect says so before any
call, asks on a terminal and needs --yes otherwise; the JSON names the line in moved_from.

--save writes the server, domain and licence key (with hmac-sha256 also the signing and secret) into the
config file (--config, else $XDG_CONFIG_HOME/olctl/config.yaml) once connected, with mode 0600, keeping
its other keys, as 'gh auth login' does: later commands need no flags for them.`,
		Example: `  olctl connect
  olctl connect --yes --connector botframework --line 3 --bot-handle mybot --app-id "$APP_ID" --app-secret "$APP_SECRET"
  olctl connect --yes --connector echo --line 1 --set greeting=hello`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context = cmd.Context()
			envDefault(cmd, "db", envPortalDB, &opts.DB, f.LookupEnv)
			for k, v := range bf {
				if *v != "" {
					opts.BotFramework[k] = *v
				}
			}
			var err error
			if opts.Hints, err = f.WizardHints(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return connectRun(opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not prompt or ask for confirmation")
	for _, s := range botFrameworkSettings {
		bf[s.Key] = cmd.Flags().String(s.Flag, "", "Bot Framework "+s.Key+" setting")
	}
	cmd.Flags().StringArrayVar(&opts.Set, "set", nil, "another setting as key=value (repeatable)")
	cmd.Flags().BoolVar(&opts.Save, "save", false, "once connected, write the server, domain and licence key into the config file (mode 0600)")
	portalDBFlag(cmd, &opts.DB)
	return cmd
}

func connectRun(opts *ConnectOptions) error {
	ctx := opts.Context
	base, err := opts.Config()
	if err != nil {
		return err
	}
	hc, err := opts.HTTPClient()
	if err != nil {
		return err
	}
	cfg := *base
	var p *prompter
	if opts.IO.InTTY && !opts.Yes {
		p = newPrompter(ctx, opts.IO)
	}
	settings, err := connectInputs(opts, p, &cfg, hc)
	if err != nil {
		return err
	}
	cl, err := newClient(&cfg, hc, opts.Clock)
	if err != nil {
		return err
	}
	moving, err := botLine(ctx, opts.DB, &cfg, cl, settings)
	if err != nil {
		return err
	}
	if err := confirmConnect(opts, p, &cfg, moving, settings.String("app_id")); err != nil {
		return err
	}
	store, err := openStatusStore(ctx, opts.DB, opts.Clock)
	if err != nil {
		return err
	}
	defer store.Close()
	rep, failure := connectSteps(ctx, opts, &cfg, cl, settings, store)
	if failure == nil {
		if err := afterConnect(ctx, opts, &cfg, store, &rep, moving); err != nil {
			return err
		}
	}
	if cfg.JSON() {
		if err := writeJSON(opts.IO.Out, rep); err != nil {
			return err
		}
		return failure
	}
	printConnect(opts.IO, opts.DB, &cfg, rep)
	return failure
}

// afterConnect records what a connection that succeeded did besides: the line the bot moved from (as the
// server names it, else as found before) gets ERROR in the portal database, and --save writes the config
// file.
func afterConnect(ctx context.Context, opts *ConnectOptions, cfg *Config, store *statusStore, rep *connectReport, moving *lineRef) error {
	if rep.MovedFrom == nil {
		rep.MovedFrom = moving // a server that does not name the lines it moved from
	}
	if rep.MovedFrom != nil && store != nil {
		if err := store.SetLineError(ctx, rep.MovedFrom.Connector, rep.MovedFrom.Line); err != nil {
			return fmt.Errorf("connected, but the status of line %s was not written to --db: %w", rep.MovedFrom.Line, err)
		}
	}
	if opts.Save {
		var err error
		if rep.SavedTo, err = saveConnection(cfg); err != nil {
			return err
		}
	}
	return nil
}

// printConnect prints the end of a connection for people: the line status written into db, the move, the
// saved config file and the webhook URL.
func printConnect(ios IO, db string, cfg *Config, rep connectReport) {
	if rep.LineStatus != nil {
		fmt.Fprintf(ios.ErrOut, "line status of %s on line %s in %s: %s\n", openlines.RealConnector(cfg.Connector), cfg.Line,
			db, describeStatus(*rep.LineStatus))
	}
	if rep.MovedFrom != nil {
		fmt.Fprintf(ios.Out, "✓ moved the bot from line %s: the connector server deactivates %s there\n", rep.MovedFrom.Line,
			rep.MovedFrom.Connector)
	}
	if rep.SavedTo != "" {
		fmt.Fprintf(ios.Out, "✓ saved the server, domain and licence key to %s\n", rep.SavedTo)
	}
	if !rep.OK {
		return
	}
	if rep.WebhookURL != "" {
		fmt.Fprintf(ios.Out, "\nWebhook URL (paste it into the bot's messaging endpoint):\n  %s\n", rep.WebhookURL)
	} else {
		fmt.Fprintln(ios.Out, "\nConnected; the server did not report a webhook URL.")
	}
}

// saveConnection writes the server, domain and licence key of cfg (and its signing and secrets with
// hmac-sha256) into its config file, and returns the file's path.
func saveConnection(cfg *Config) (string, error) {
	path := cfg.FileWanted
	if path == "" {
		return "", usageErrorf("--save: no config file to write (no HOME or XDG_CONFIG_HOME): give --config FILE")
	}
	keys := [][2]string{{KeyServer, cfg.Server}, {KeyDomain, cfg.Domain}, {KeyLicenceKey, cfg.LicenceKey}}
	if cfg.Signing == wire.HMACSHA256 {
		keys = append(keys, [2]string{KeySigning, string(cfg.Signing)}, [2]string{KeySecret, strings.Join(cfg.Secrets, ",")})
	}
	if err := saveConfig(path, keys); err != nil {
		return "", fmt.Errorf("connected, but --save did not write the config file: %w", err)
	}
	return path, nil
}

// confirmConnect asks the person at the terminal (p) to confirm the connection; a move of the bot from the
// line moving names is said first, and needs --yes when there is no terminal to ask.
func confirmConnect(opts *ConnectOptions, p *prompter, cfg *Config, moving *lineRef, appID string) error {
	question := fmt.Sprintf("Connect %s on line %s of %s?", cfg.Connector, cfg.Line, cfg.Server)
	def := true
	if moving != nil {
		notice := fmt.Sprintf("the bot (app id %s) is connected on line %s: connecting it on line %s moves it there, and the "+
			"connector server deactivates %s on line %s, whose messages are then refused until it is connected again",
			appID, moving.Line, cfg.Line, moving.Connector, moving.Line)
		if p == nil && !opts.Yes {
			return usageErrorf("%s; give --yes to move it", notice)
		}
		fmt.Fprintf(opts.IO.ErrOut, "%s%s.\n", strings.ToUpper(notice[:1]), notice[1:])
		question, def = fmt.Sprintf("Move the bot from line %s to line %s?", moving.Line, cfg.Line), false
	}
	if p == nil {
		return nil
	}
	ok, err := p.confirm(question, def)
	if err != nil {
		return err
	}
	if !ok {
		return &ExitError{Code: ExitFailed, Err: errors.New("connect: cancelled")}
	}
	return nil
}

// botLine returns the other line where the Bot Framework bot of settings (its app_id) is connected, found
// among the lines the portal database dsn has connected, by the server's readSettings of each; nil when it
// is on none (or the connector is not botframework, or there is no database).
func botLine(ctx context.Context, dsn string, cfg *Config, cl *client.Client, settings *wire.Map) (*lineRef, error) {
	appID := settings.String("app_id")
	if openlines.RealConnector(cfg.Connector) != openlines.Botframework || appID == "" || strings.TrimSpace(dsn) == "" {
		return nil, nil
	}
	db, err := openPortalDB(ctx, dsn, portalIfThere)
	if err != nil || db == nil {
		return nil, err
	}
	defer db.Close()
	st, err := portal.NewSQLStatusStore(ctx, db, nil)
	if err != nil {
		return nil, fmt.Errorf("--db %s: %w", dsn, err)
	}
	statuses, err := st.LineStatuses(ctx, openlines.Botframework)
	if err != nil {
		return nil, fmt.Errorf("--db %s: %w", dsn, err)
	}
	lines := make([]string, 0, len(statuses))
	for line, s := range statuses {
		if line != cfg.Line && s.Register && !s.Error {
			lines = append(lines, line)
		}
	}
	sort.Strings(lines)
	for _, line := range lines {
		callCtx, cancel := cfg.callContext(ctx)
		res, err := cl.Call(callCtx, openlines.MethodReadSettings, nil, client.Connector(openlines.Botframework), client.Line(line),
			client.Fresh())
		cancel()
		if err != nil {
			continue // the line is not connected on the server any more
		}
		var got map[string]any
		if json.Unmarshal(res.Raw, &got) == nil && fmt.Sprint(got["app_id"]) == appID {
			return &lineRef{Connector: openlines.Botframework, Line: line}, nil
		}
	}
	return nil, nil
}

// connectInputs completes cfg and returns the settings to save: what flags, environment and config file left
// out is asked with p (nil: never ask), and what is still missing is a usage error naming its flag.
func connectInputs(opts *ConnectOptions, p *prompter, cfg *Config, hc *http.Client) (*wire.Map, error) {
	// ask fills *dst from the prompt when it is empty and prompting is allowed.
	ask := func(dst *string, label, def string, secret bool) error {
		if *dst != "" || p == nil {
			return nil
		}
		var v string
		var err error
		if secret {
			v, err = p.askSecret(label)
		} else {
			v, err = p.ask(label, def, true)
		}
		*dst = v
		return err
	}
	var hint offered // what the running servers on this machine offer as defaults
	if p != nil {
		hint = opts.Hints.probe(opts.Context, hc)
	}
	for _, q := range []struct {
		dst        *string
		label, def string
		secret     bool
	}{
		{&cfg.Server, "Connector server URL", hint.Server, false},
		{&cfg.Domain, "This portal's URL (BX_DOMAIN)", hint.Domain, false},
		{&cfg.LicenceKey, "Licence key", "", true},
	} {
		if err := ask(q.dst, q.label, q.def, q.secret); err != nil {
			return nil, err
		}
	}
	if cfg.Signing == wire.HMACSHA256 && len(cfg.Secrets) == 0 && p != nil {
		s, err := p.askSecret("HMAC secret")
		if err != nil {
			return nil, err
		}
		cfg.Secrets = []string{s}
	}
	if err := ask(&cfg.Connector, "Connector", "botframework", false); err != nil {
		return nil, err
	}
	if err := ask(&cfg.Line, "Line", "1", false); err != nil {
		return nil, err
	}
	cfg.Server = strings.TrimRight(cfg.Server, "/")
	cfg.Domain = strings.TrimRight(cfg.Domain, "/")
	// What is still missing is named in one error: the configuration and the Bot Framework settings.
	cfgErr := cfg.Require(append(cfg.signedCallKeys(), KeyConnector, KeyLine)...)
	settings := wire.NewMap()
	var missing, flags []string
	if openlines.RealConnector(cfg.Connector) == openlines.Botframework {
		for _, s := range botFrameworkSettings {
			v := opts.BotFramework[s.Key]
			var err error
			switch {
			case v != "" || p == nil:
			case s.Key == "app_id" && hint.Bot != nil:
				v, err = p.ask(s.Label, hint.Bot.AppID, true)
			case s.Key == "app_secret" && hint.Bot != nil && settings.String("app_id") == hint.Bot.AppID:
				v, err = p.askSecretOr(s.Label, "the fake's", hint.Bot.AppSecret)
			default:
				err = ask(&v, s.Label, "", s.Secret)
			}
			if err != nil {
				return nil, err
			}
			if v == "" {
				missing, flags = append(missing, s.Key), append(flags, "--"+s.Flag)
				continue
			}
			settings.Set(s.Key, v)
		}
	}
	var bfErr error
	switch len(missing) {
	case 0:
	case 1:
		bfErr = usageErrorf("missing Bot Framework setting %s: give %s", missing[0], flags[0])
	default:
		bfErr = usageErrorf("missing Bot Framework settings %s: give %s", andList(missing), andList(flags))
	}
	if err := errors.Join(cfgErr, bfErr); err != nil {
		return nil, err
	}
	if _, err := clientOptions(cfg, hc, opts.Clock); err != nil {
		return nil, err
	}
	for _, kv := range opts.Set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErrorf("--set %q: want key=value", kv)
		}
		settings.Set(k, v)
	}
	return settings, nil
}

// connectSteps runs saveSettings → testConnect → register, printing each step as it ends (but under --json),
// and writes the line's status after each into store (when there is one). It returns the report and the
// error of the failed step.
func connectSteps(ctx context.Context, opts *ConnectOptions, cfg *Config, cl *client.Client, settings *wire.Map,
	store *statusStore) (connectReport, error) {
	rep := connectReport{Server: cfg.Server, Connector: cfg.Connector, Line: cfg.Line, Steps: []connectStep{}}
	real := openlines.RealConnector(cfg.Connector)
	var status openlines.LineStatus
	if store != nil {
		var err error
		if status, err = store.LineStatus(ctx, real, cfg.Line); err != nil {
			return rep, fmt.Errorf("reading the line status from --db: %w", err)
		}
	}
	steps := []struct {
		method string
		args   []any
	}{{openlines.MethodSaveSettings, []any{settings}}, {openlines.MethodTestConnect, nil}, {openlines.MethodRegister, nil}}
	for _, s := range steps {
		start := opts.Clock.Now()
		callCtx, cancel := cfg.callContext(ctx)
		res, err := cl.Call(callCtx, s.method, s.args)
		cancel()
		st := connectStep{Step: s.method, Status: checkOK,
			LatencyMS: float64(opts.Clock.Now().Sub(start).Microseconds()) / 1000}
		if err != nil {
			row := failedCall(s.method, err)
			st.Status, st.Detail, st.Codes = checkFail, row.Detail, row.Codes
		} else {
			if u := findWebhookURL(res.Raw); u != "" {
				rep.WebhookURL = u
			}
			if s.method == openlines.MethodRegister {
				rep.MovedFrom = movedFromAnswer(res.Raw)
			}
		}
		rep.Steps = append(rep.Steps, st)
		if !cfg.JSON() {
			printStep(opts.IO, st)
		}
		if store != nil {
			status = status.AfterConnectStep(s.method, err == nil)
			if serr := store.SetLineStatus(ctx, real, cfg.Line, status); serr != nil {
				return rep, fmt.Errorf("writing the line status to --db: %w", serr)
			}
			rep.LineStatus = &status
		}
		if err != nil {
			return rep, err
		}
	}
	if rep.WebhookURL == "" {
		// Older servers answer register without the URL: ask for the connector's links.
		callCtx, cancel := cfg.callContext(ctx)
		defer cancel()
		if res, err := cl.Call(callCtx, openlines.MethodInfoConnectLink, nil, client.Fresh()); err == nil {
			rep.WebhookURL = findWebhookURL(res.Raw)
		}
	}
	rep.OK = true
	return rep, nil
}

func printStep(ios IO, s connectStep) {
	mark := "✓"
	if s.Status != checkOK {
		mark = "✗"
	}
	line := fmt.Sprintf("%s %-13s %s", mark, s.Step, formatMS(s.LatencyMS))
	if s.Detail != "" {
		line += "  " + s.Detail
	}
	fmt.Fprintln(ios.Out, line)
}

// movedFromAnswer reads the line register moved the bot from, which this project's connector server names in
// MOVED_FROM ([{CONNECTOR, LINE}]); nil when it moved none (or the server does not say).
func movedFromAnswer(raw json.RawMessage) *lineRef {
	var ans struct {
		MovedFrom []struct {
			Connector string `json:"CONNECTOR"`
			Line      string `json:"LINE"`
		} `json:"MOVED_FROM"`
	}
	if json.Unmarshal(raw, &ans) != nil || len(ans.MovedFrom) == 0 {
		return nil
	}
	m := ans.MovedFrom[0]
	return &lineRef{Connector: openlines.RealConnector(m.Connector), Line: m.Line}
}

// findWebhookURL returns the first string in a JSON document that is a connector webhook URL
// ({server}/imwebhook/{real}?h=…), preferring keys that name it.
func findWebhookURL(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return ""
	}
	var found string
	var walk func(v any)
	walk = func(v any) {
		if found != "" {
			return
		}
		switch x := v.(type) {
		case string:
			if strings.HasPrefix(x, "http") && strings.Contains(x, "/imwebhook/") && !strings.HasSuffix(x, "/portal.php") {
				found = x
			}
		case map[string]any:
			for _, k := range []string{"webhook_url", "WEBHOOK_URL", "webhook", "url", "URL"} {
				walk(x[k])
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return found
}
