package cli

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/connector"
)

func TestNewCmdConnectorServeParsing(t *testing.T) {
	defaultLimits := serverLimitFlags{readTimeout: 30 * time.Second, requestTimeout: time.Minute, maxConcurrent: 1024}
	defaults := ConnectorServeOptions{Listen: "127.0.0.1:8080", LogLevel: "info", Batch: connector.DefaultBatch,
		Confirm: connector.DefaultConfirmTimeout, Limits: defaultLimits, PortalMaxBody: 8 << 20}
	every := ConnectorServeOptions{Listen: ":1", DB: "c.db", PublicURL: "https://c.example.com", LicenceKeys: []string{"k1", "k2"},
		LogLevel: "debug", Batch: 5, Confirm: time.Second, Schedule: "1s,2s",
		BotFramework:  BFChannelOptions{Fake: "http://127.0.0.1:3978", OpenIDURL: "http://o", TokenURL: "http://t", Anonymous: true},
		Limits:        serverLimitFlags{readTimeout: 2 * time.Second, requestTimeout: 3 * time.Second, maxConcurrent: 7},
		PortalMaxBody: 1000, MetricsListen: "127.0.0.1:9464", AllowPrivate: true}
	tests := []struct {
		name string
		args []string
		want ConnectorServeOptions
		err  string
	}{
		{name: "defaults", want: defaults},
		{name: "every flag", args: []string{"--listen", ":1", "--db", "c.db", "--public-url", "https://c.example.com",
			"--licence-key", "k1", "--licence-key", "k2", "--log-level", "debug", "--batch", "5", "--confirm-timeout", "1s",
			"--schedule", "1s,2s", "--bf-fake", "http://127.0.0.1:3978", "--bf-openid-url", "http://o", "--bf-token-url", "http://t",
			"--bf-anonymous", "--read-timeout", "2s", "--request-timeout", "3s", "--max-concurrent", "7", "--portal-max-body", "1000",
			"--metrics-listen", "127.0.0.1:9464", "--allow-private-networks"}, want: every},
		{name: "zero batch", args: []string{"--batch", "0"}, err: "--batch and --confirm-timeout must be positive"},
		{name: "zero portal cap", args: []string{"--portal-max-body", "0"}, err: "--portal-max-body must be positive"},
		{name: "zero concurrency", args: []string{"--max-concurrent", "0"}, err: "--max-concurrent must be positive"},
		{name: "bad duration", args: []string{"--confirm-timeout", "soon"}, err: `invalid argument "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *ConnectorServeOptions
			err := parse(NewCmdConnectorServe(testFactory(nil), func(o *ConnectorServeOptions) error { got = o; return nil }), tt.args...)
			if tt.err != "" {
				wantParseError(t, err, tt.err, got != nil)
				return
			}
			if err != nil || got == nil || got.Config == nil || got.Clock == nil {
				t.Fatalf("err %v, options %+v", err, got)
			}
			g := *got
			g.Context, g.IO, g.Config, g.Clock = nil, IO{}, nil, nil
			if !reflect.DeepEqual(g, tt.want) {
				t.Fatalf("options\n got %+v\nwant %+v", g, tt.want)
			}
		})
	}
}

func TestNewCmdConnectorQueueParsing(t *testing.T) {
	env := map[string]string{envConnectorDB: "env.db"}
	var stats *QueueStatsOptions
	if err := parse(NewCmdConnectorQueueStats(testFactory(env), func(o *QueueStatsOptions) error { stats = o; return nil })); err != nil ||
		stats == nil || stats.DB != "env.db" {
		t.Fatalf("stats: err %v, options %+v", err, stats)
	}
	tests := []struct {
		dead bool
		args []string
		want QueueListOptions
		err  string
	}{
		{args: nil, want: QueueListOptions{DB: "env.db", Filter: connector.QueueFilter{Limit: 100}}},
		{dead: true, args: []string{"--db", "c.db", "--site", "s", "--line", "3", "--after", "9", "--limit", "5", "--all"},
			want: QueueListOptions{DB: "c.db", Dead: true, All: true, Filter: connector.QueueFilter{Site: "s", Line: "3", AfterID: 9, Limit: 5}}},
		{args: []string{"--limit", "-1"}, err: "--limit must be positive"},
		{args: []string{"--after", "x"}, err: `invalid argument "x"`},
		{args: []string{"--after", "-1"}, err: "--after -1: want an id"},
		{dead: true, args: []string{"--limit", "0"}, err: "--limit must be positive"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *QueueListOptions
			err := parse(NewCmdConnectorQueueList(testFactory(env), tt.dead, func(o *QueueListOptions) error { got = o; return nil }), tt.args...)
			if tt.err != "" {
				wantParseError(t, err, tt.err, got != nil)
				return
			}
			if err != nil || got == nil {
				t.Fatalf("err %v, runF ran %v", err, got != nil)
			}
			g := *got
			g.Context, g.IO, g.Config = nil, IO{}, nil
			if !reflect.DeepEqual(g, tt.want) {
				t.Fatalf("options\n got %+v\nwant %+v", g, tt.want)
			}
		})
	}
}
