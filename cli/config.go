package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/olctl/olctl/wire"
)

// Configuration keys (the names in the config file).
const (
	KeyServer     = "server"
	KeyDomain     = "domain"
	KeyLicenceKey = "licence_key"
	KeySigning    = "signing"
	KeySecret     = "secret"
	KeyConnector  = "connector"
	KeyLine       = "line"
	KeyProfile    = "profile"
	KeyRegion     = "region"
	KeyTimeout    = "timeout"
	KeyRetries    = "retries"
	KeyOutput     = "output"
)

// envPrefix prefixes every environment variable olctl reads.
const envPrefix = "OLCTL_"

// configKey describes one configuration value: its key, its flag, its environment variable, its default and,
// for a key with a fixed set of values, those values (shell completion offers them).
type configKey struct {
	Key     string
	Default string
	Secret  bool
	Help    string
	Values  []string
}

// Flag is the key's command-line flag, without dashes.
func (k configKey) Flag() string { return strings.ReplaceAll(k.Key, "_", "-") }

// Env is the key's environment variable.
func (k configKey) Env() string { return envPrefix + strings.ToUpper(k.Key) }

// configKeys are the configuration values in the order `config view` shows them.
var configKeys = []configKey{
	{Key: KeyServer, Help: "connector server URL, e.g. https://connector.example.com"},
	{Key: KeyDomain, Help: "this portal's base URL (BX_DOMAIN), where the server calls back"},
	{Key: KeyLicenceKey, Secret: true, Help: "the portal's licence key"},
	{Key: KeySigning, Default: string(wire.MD5), Help: "signing scheme: md5 or hmac-sha256",
		Values: []string{string(wire.MD5), string(wire.HMACSHA256)}},
	{Key: KeySecret, Secret: true, Help: "HMAC secret for hmac-sha256 (repeat or comma-separate for rotation; the first signs)"},
	{Key: KeyConnector, Help: "connector id, e.g. botframework"},
	{Key: KeyLine, Help: "open line id"},
	{Key: KeyProfile, Default: wire.Current.String(), Help: "protocol generation of the portal: legacy (imconnector up to 21.x) or current",
		Values: []string{wire.Legacy.String(), wire.Current.String()}},
	{Key: KeyRegion, Help: "the portal's licence region, BX_REGION (current profile only), e.g. eu"},
	{Key: KeyTimeout, Default: "30s", Help: "timeout of one remote call, its retries included"},
	{Key: KeyRetries, Default: "3", Help: "retries of a read-only call after a network failure, 5xx or 429 (0: none)"},
	{Key: KeyOutput, Default: "table", Help: "output format: table or json", Values: []string{"table", "json"}},
}

func lookupKey(name string) configKey {
	for _, k := range configKeys {
		if k.Key == name {
			return k
		}
	}
	panic("cli: unknown config key " + name) // programming error: keys are constants
}

// Source says where a configuration value came from.
type Source string

// The sources of a value, from the strongest.
const (
	SourceFlag    Source = "flag"
	SourceEnv     Source = "env"
	SourceFile    Source = "file"
	SourceDefault Source = "default"
	SourceUnset   Source = "unset"
)

// Config is the effective configuration of one olctl run.
type Config struct {
	Server     string
	Domain     string
	LicenceKey string
	Signing    wire.Mode
	Secrets    []string
	Connector  string
	Line       string
	Profile    wire.Profile
	Region     string
	Timeout    time.Duration
	Retries    int
	Output     string

	// Trace is where the packets are traced, the error stream, under --trace or OLCTL_TRACE=1; nil when
	// off.
	Trace io.Writer

	// File is the config file that was read ("" when none); FileWanted is the path looked at.
	File       string
	FileWanted string
	// UnknownKeys are the keys of the config file that are not configuration keys (warned about on
	// stderr), sorted.
	UnknownKeys []string
	// Sources says where each key's value came from.
	Sources map[string]Source
}

// ConfigError is a missing or invalid configuration value. It names the flag, the environment variable and the
// config-file key that set it, and is a usage error (exit 2).
type ConfigError struct {
	Key    string
	Flag   string
	Env    string
	File   string
	Reason string // "" means missing
}

func (e *ConfigError) Error() string {
	file := "the config file"
	if e.File != "" {
		file = e.File
	}
	if e.Reason == "" {
		return fmt.Sprintf("missing %s: set --%s, %s or %q in %s", strings.ReplaceAll(e.Key, "_", " "), e.Flag,
			e.Env, e.Key, file)
	}
	return fmt.Sprintf("invalid %s (--%s, %s, %q in %s): %s", strings.ReplaceAll(e.Key, "_", " "), e.Flag, e.Env,
		e.Key, file, e.Reason)
}

func (c *Config) configError(key, reason string) *ConfigError {
	k := lookupKey(key)
	file := c.File
	if file == "" {
		file = c.FileWanted
	}
	return &ConfigError{Key: k.Key, Flag: k.Flag(), Env: k.Env(), File: file, Reason: reason}
}

// Require returns an error naming every one of keys that has no value: a ConfigError for one, a
// MissingError for several; nil when all have one.
func (c *Config) Require(keys ...string) error {
	var missing []*ConfigError
	seen := map[string]bool{}
	for _, key := range keys {
		if c.isSet(key) || seen[key] {
			continue
		}
		seen[key] = true
		missing = append(missing, c.configError(key, ""))
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return missing[0]
	}
	return &MissingError{Missing: missing}
}

// MissingError names several configuration values a command needs that are not set, each a ConfigError
// (errors.As finds the first); a usage error (exit 2).
type MissingError struct {
	Missing []*ConfigError
}

func (e *MissingError) Error() string {
	var names, flags, envs, keys []string
	for _, m := range e.Missing {
		names = append(names, strings.ReplaceAll(m.Key, "_", " "))
		flags = append(flags, "--"+m.Flag)
		envs = append(envs, m.Env)
		keys = append(keys, strconv.Quote(m.Key))
	}
	file := "the config file"
	if f := e.Missing[0].File; f != "" {
		file = f
	}
	return fmt.Sprintf("missing %s: set %s (or %s, or %s in %s)", andList(names), andList(flags), andList(envs),
		andList(keys), file)
}

func (e *MissingError) Unwrap() []error {
	errs := make([]error, len(e.Missing))
	for i, m := range e.Missing {
		errs[i] = m
	}
	return errs
}

// andList joins words as "a, b and c".
func andList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// signedCallKeys are the keys a signed call cannot go without: the server, the domain, the licence key (the
// portal's identity, BX_LICENCE) and, with hmac-sha256, a secret.
func (c *Config) signedCallKeys() []string {
	keys := []string{KeyServer, KeyDomain, KeyLicenceKey}
	if c.Signing == wire.HMACSHA256 {
		keys = append(keys, KeySecret)
	}
	return keys
}

func (c *Config) isSet(key string) bool {
	switch key {
	case KeyServer:
		return c.Server != ""
	case KeyDomain:
		return c.Domain != ""
	case KeyLicenceKey:
		return c.LicenceKey != ""
	case KeySigning:
		return c.Signing != ""
	case KeySecret:
		return len(c.Secrets) > 0
	case KeyConnector:
		return c.Connector != ""
	case KeyLine:
		return c.Line != ""
	case KeyProfile:
		return true
	case KeyRegion:
		return c.Region != ""
	case KeyTimeout:
		return c.Timeout > 0
	case KeyRetries:
		return true
	case KeyOutput:
		return c.Output != ""
	}
	return false
}

// RequireSigning checks what signing needs: the licence key always (it is the portal's identity, BX_LICENCE),
// and a secret in hmac-sha256 mode; extra are other keys checked with them, so that one error names all
// that are missing.
func (c *Config) RequireSigning(extra ...string) error {
	keys := append([]string{}, extra...)
	keys = append(keys, KeyLicenceKey)
	if c.Signing == wire.HMACSHA256 {
		keys = append(keys, KeySecret)
	}
	return c.Require(keys...)
}

// Credentials returns the signing credentials of the configuration.
func (c *Config) Credentials() wire.Credentials {
	return wire.Credentials{Mode: c.Signing, LicenceKey: c.LicenceKey, Secrets: c.Secrets}
}

// JSON reports whether output is JSON.
func (c *Config) JSON() bool { return c.Output == "json" }

// value returns the display value of key (secrets unmasked).
func (c *Config) value(key string) string {
	switch key {
	case KeyServer:
		return c.Server
	case KeyDomain:
		return c.Domain
	case KeyLicenceKey:
		return c.LicenceKey
	case KeySigning:
		return string(c.Signing)
	case KeySecret:
		return strings.Join(c.Secrets, ",")
	case KeyConnector:
		return c.Connector
	case KeyLine:
		return c.Line
	case KeyProfile:
		return c.Profile.String()
	case KeyRegion:
		return c.Region
	case KeyTimeout:
		return c.Timeout.String()
	case KeyRetries:
		return strconv.Itoa(c.Retries)
	case KeyOutput:
		return c.Output
	}
	return ""
}

// mask hides a secret: short ones entirely, longer ones but their last four characters.
func mask(s string) string {
	if s == "" {
		return ""
	}
	if len(s) < 12 {
		return "****"
	}
	return "****" + s[len(s)-4:]
}

// configLoader reads the configuration of one run from flags, environment and file through its own viper
// instance (never viper's global one).
type configLoader struct {
	flags     *pflag.FlagSet
	lookupEnv func(string) (string, bool)
	errOut    io.Writer // where --trace writes
}

// addConfigFlags adds the persistent flags of every key, plus --config and --json, to root, with the
// completion of the keys that take a fixed set of values.
func addConfigFlags(root *cobra.Command) {
	fs := root.PersistentFlags()
	fs.String("config", "", "config file (default $XDG_CONFIG_HOME/olctl/config.yaml; env OLCTL_CONFIG)")
	for _, k := range configKeys {
		help := fmt.Sprintf("%s (env %s)", k.Help, k.Env())
		switch k.Key {
		case KeySecret:
			fs.StringSlice(k.Flag(), nil, help)
		case KeyOutput:
			fs.StringP(k.Flag(), "o", "", help+` (default "table")`)
		default:
			if k.Default != "" {
				help += fmt.Sprintf(" (default %q)", k.Default)
			}
			fs.String(k.Flag(), "", help)
		}
		if k.Values != nil {
			_ = root.RegisterFlagCompletionFunc(k.Flag(), cobra.FixedCompletions(k.Values, cobra.ShellCompDirectiveNoFileComp))
		}
	}
	fs.Bool("json", false, "shorthand for --output json")
}

// configPath returns the config file to read and whether the user named it (then it must exist).
func (l *configLoader) configPath() (string, bool) {
	if f := l.flags.Lookup("config"); f != nil && f.Changed {
		return f.Value.String(), true
	}
	if p, ok := l.lookupEnv(envPrefix + "CONFIG"); ok && p != "" {
		return p, true
	}
	dir, ok := l.lookupEnv("XDG_CONFIG_HOME")
	if !ok || dir == "" || !filepath.IsAbs(dir) {
		home, ok := l.lookupEnv("HOME")
		if !ok || home == "" {
			return "", false
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "olctl", "config.yaml"), false
}

// load resolves the configuration: flags over OLCTL_* environment over the config file over defaults.
func (l *configLoader) load() (*Config, error) {
	v := viper.New()
	cfg := &Config{Sources: map[string]Source{}}

	path, explicit := l.configPath()
	cfg.FileWanted = path
	inFile := map[string]bool{}
	if path != "" {
		v.SetConfigFile(path)
		if ext := strings.TrimPrefix(filepath.Ext(path), "."); ext == "" {
			v.SetConfigType("yaml")
		}
		err := v.ReadInConfig()
		switch {
		case err == nil:
			cfg.File = path
			for _, k := range configKeys {
				inFile[k.Key] = v.InConfig(k.Key)
			}
			cfg.UnknownKeys = unknownKeys(v.AllKeys())
			l.warnUnknown(path, cfg.UnknownKeys)
		case !explicit && errors.Is(err, fs.ErrNotExist):
			// The default file is optional.
		default:
			return nil, &UsageError{Err: fmt.Errorf("config file %s: %w", path, err)}
		}
	}

	env := map[string]any{}
	inEnv := map[string]bool{}
	for _, k := range configKeys {
		val, ok := l.lookupEnv(k.Env())
		if !ok {
			continue
		}
		inEnv[k.Key] = true
		if k.Key == KeySecret {
			env[k.Key] = splitList(val)
		} else {
			env[k.Key] = val
		}
	}
	if len(env) > 0 {
		if err := v.MergeConfigMap(env); err != nil {
			return nil, &UsageError{Err: fmt.Errorf("environment: %w", err)}
		}
	}

	inFlag := map[string]bool{}
	for _, k := range configKeys {
		f := l.flags.Lookup(k.Flag())
		if f == nil {
			continue
		}
		if err := v.BindPFlag(k.Key, f); err != nil {
			return nil, err
		}
		inFlag[k.Key] = f.Changed
	}
	if f := l.flags.Lookup("json"); f != nil && f.Changed && f.Value.String() == "true" {
		v.Set(KeyOutput, "json")
		inFlag[KeyOutput] = true
	}
	for _, k := range configKeys {
		if k.Default != "" {
			v.SetDefault(k.Key, k.Default)
		}
		switch {
		case inFlag[k.Key]:
			cfg.Sources[k.Key] = SourceFlag
		case inEnv[k.Key]:
			cfg.Sources[k.Key] = SourceEnv
		case inFile[k.Key]:
			cfg.Sources[k.Key] = SourceFile
		case k.Default != "":
			cfg.Sources[k.Key] = SourceDefault
		default:
			cfg.Sources[k.Key] = SourceUnset
		}
	}

	cfg.Server = strings.TrimRight(strings.TrimSpace(v.GetString(KeyServer)), "/")
	cfg.Domain = strings.TrimRight(strings.TrimSpace(v.GetString(KeyDomain)), "/")
	cfg.LicenceKey = v.GetString(KeyLicenceKey)
	cfg.Connector = strings.TrimSpace(v.GetString(KeyConnector))
	cfg.Line = strings.TrimSpace(v.GetString(KeyLine))
	cfg.Secrets = toList(v.Get(KeySecret))
	cfg.Region = strings.TrimSpace(v.GetString(KeyRegion))

	mode, err := wire.ParseMode(strings.TrimSpace(v.GetString(KeySigning)))
	if err != nil {
		return nil, cfg.configError(KeySigning, fmt.Sprintf("%q: want md5 or hmac-sha256", v.GetString(KeySigning)))
	}
	cfg.Signing = mode

	profile, err := wire.ParseProfile(v.GetString(KeyProfile))
	if err != nil {
		return nil, cfg.configError(KeyProfile, fmt.Sprintf("%q: want legacy or current", v.GetString(KeyProfile)))
	}
	cfg.Profile = profile
	if cfg.Region != "" && profile == wire.Legacy {
		return nil, cfg.configError(KeyRegion, fmt.Sprintf("%q: the legacy profile sends no BX_REGION", cfg.Region))
	}

	timeout, err := parseTimeout(v.GetString(KeyTimeout))
	if err != nil {
		return nil, cfg.configError(KeyTimeout, err.Error())
	}
	cfg.Timeout = timeout
	retries, err := strconv.Atoi(strings.TrimSpace(v.GetString(KeyRetries)))
	if err != nil || retries < 0 {
		return nil, cfg.configError(KeyRetries, fmt.Sprintf("%q: want a number of retries, 0 or more", v.GetString(KeyRetries)))
	}
	cfg.Retries = retries

	switch out := strings.ToLower(strings.TrimSpace(v.GetString(KeyOutput))); out {
	case "table", "json":
		cfg.Output = out
	default:
		return nil, cfg.configError(KeyOutput, fmt.Sprintf("%q: want table or json", out))
	}
	if cfg.Trace, err = traceWriter(l.flags, l.lookupEnv, l.errOut); err != nil {
		return nil, err
	}
	for _, u := range []struct{ key, val string }{{KeyServer, cfg.Server}, {KeyDomain, cfg.Domain}} {
		if u.val != "" && !strings.HasPrefix(u.val, "http://") && !strings.HasPrefix(u.val, "https://") {
			return nil, cfg.configError(u.key, fmt.Sprintf("%q is not an http(s) URL", u.val))
		}
	}
	return cfg, nil
}

// unknownKeys returns the top-level keys among a config file's keys (nested ones as "a.b") that are not
// configuration keys, sorted.
func unknownKeys(keys []string) []string {
	known := map[string]bool{}
	for _, k := range configKeys {
		known[k.Key] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		top, _, _ := strings.Cut(k, ".")
		if !known[top] && !seen[top] {
			seen[top] = true
			out = append(out, top)
		}
	}
	sort.Strings(out)
	return out
}

// warnUnknown warns on the error stream about each unknown key of the config file at path, with the key it
// may have meant.
func (l *configLoader) warnUnknown(path string, unknown []string) {
	if l.errOut == nil {
		return
	}
	for _, k := range unknown {
		hint := ""
		if near := nearestKey(k); near != "" {
			hint = fmt.Sprintf(": did you mean %q?", near)
		}
		fmt.Fprintf(l.errOut, "olctl: warning: unknown key %q in %s%s (olctl config view lists the keys)\n", k, path, hint)
	}
}

// nearestKey returns the configuration key k most likely meant (dashes read as underscores, case ignored):
// one that starts with k or that k starts with, else the closest at most 3 edits away; "" when none is.
func nearestKey(k string) string {
	k = strings.ToLower(strings.ReplaceAll(k, "-", "_"))
	best, bestD := "", 4
	for _, ck := range configKeys {
		if len(k) >= 4 && (strings.HasPrefix(ck.Key, k) || strings.HasPrefix(k, ck.Key)) {
			return ck.Key
		}
		if d := editDistance(k, ck.Key); d < bestD {
			best, bestD = ck.Key, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, by bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// parseTimeout reads a duration ("30s", "1m") or a number of seconds.
func parseTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		s = strconv.FormatFloat(n, 'f', -1, 64) + "s"
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 30s)", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	return d, nil
}

// splitList splits a comma-separated list, dropping empty entries.
func splitList(s string) []any {
	var out []any
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// toList reads a list value that may be a string (comma-separated), a []string or a []any.
func toList(v any) []string {
	var out []string
	add := func(s string) {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	switch x := v.(type) {
	case nil:
	case string:
		add(x)
	case []string:
		for _, s := range x {
			add(s)
		}
	case []any:
		for _, s := range x {
			add(fmt.Sprint(s))
		}
	default:
		add(fmt.Sprint(x))
	}
	return out
}
