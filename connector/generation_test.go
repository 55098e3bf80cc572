package connector

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// vector is one packet of the PHP vectors (wire/testdata/vectors), its fields in order.
type vector struct {
	Name       string
	LicenceKey string
	Profile    string
	Fields     wire.Fields
	DataPHP    json.RawMessage
}

// readVectors reads the vectors whose name starts with prefix, keeping each packet's field order.
func readVectors(t *testing.T, prefix string) []vector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "wire", "testdata", "vectors", "packets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]struct {
		LicenceKey string          `json:"licence_key"`
		Profile    string          `json:"profile"`
		Fields     json.RawMessage `json:"fields"`
		DataPHP    json.RawMessage `json:"data_php"`
	}
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	var out []vector
	for name, v := range all {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(v.Fields))
		var fields wire.Fields
		if _, err := dec.Token(); err != nil { // {
			t.Fatal(err)
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			var val string
			if err := dec.Decode(&val); err != nil {
				t.Fatal(err)
			}
			fields = append(fields, wire.Field{Name: k.(string), Value: val})
		}
		out = append(out, vector{Name: name, LicenceKey: v.LicenceKey, Profile: v.Profile, Fields: fields, DataPHP: v.DataPHP})
	}
	// saveSettings before testConnect (a line connector to test), legacy before current; then by name.
	slices.SortFunc(out, func(a, b vector) int {
		ka := [2]bool{a.Fields.Get("BX_COMMAND") != openlines.MethodSaveSettings, a.Profile != ""}
		kb := [2]bool{b.Fields.Get("BX_COMMAND") != openlines.MethodSaveSettings, b.Profile != ""}
		switch {
		case ka[1] != kb[1]:
			if ka[1] {
				return 1
			}
			return -1
		case ka[0] != kb[0]:
			if ka[0] {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// tlsPortal is a portal served over HTTPS at the name a vector's BX_DOMAIN gives (https://portal.example.com):
// the server's client dials it on 127.0.0.1. It verifies the server's signed packets and records them.
type tlsPortal struct {
	srv   *httptest.Server
	creds wire.Credentials
	mu    sync.Mutex
	got   []*wire.Packet
}

func newTLSPortal(t *testing.T, key string) *tlsPortal {
	p := &tlsPortal{creds: wire.Credentials{Mode: wire.MD5, LicenceKey: key}}
	p.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, err := wire.ReadForm(r, 0)
		var pk *wire.Packet
		if err == nil {
			pk, err = wire.Parse(fields, wire.ToPortal)
		}
		if err == nil {
			err = wire.Verify(fields, p.creds, nil)
		}
		if err == nil {
			err = pk.DecodeData()
		}
		if err != nil {
			t.Errorf("tls portal: %v", err)
			wire.WriteResponse(w, nil, err)
			return
		}
		p.mu.Lock()
		p.got = append(p.got, pk)
		p.mu.Unlock()
		wire.WriteResponse(w, []any{}, nil) // a current portal's answer; a legacy one adds RESULT OK: both count by OK
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// client returns an HTTP client that reaches the portal at any host name.
func (p *tlsPortal) client() *http.Client {
	tr := p.srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ServerName = "example.com" // a name of httptest's certificate
	addr := p.srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func (p *tlsPortal) packets() []*wire.Packet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got)
}

// keepChannel is the echo channel under the real id of the vectors' connector.
type keepChannel struct{ *Echo }

func (keepChannel) ID() string { return openlines.Botframework }

// TestPortalVectors: every portal → server packet of the PHP vectors, legacy and current, is accepted by the
// portal endpoint over HTTP, with what its generation sends around it (the ?connector=&command= query,
// x-bitrix-licence, the User-Agent, Referer): saveSettings keeps "0" and reads both stubs as empty settings,
// testConnect is answered after the server's own testConnect reached the portal in the portal's generation.
func TestPortalVectors(t *testing.T) {
	vs := readVectors(t, "portal_to_server")
	if len(vs) < 4 {
		t.Fatalf("%d portal → server vectors, want at least 4", len(vs))
	}
	portal := newTLSPortal(t, vs[0].LicenceKey)
	chs := NewChannels()
	if err := chs.Register(openlines.Botframework, func(env Env) (Channel, error) {
		e, _ := NewEcho(env)
		return keepChannel{e.(*Echo)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, nil, Config{Channels: chs, HTTPClient: portal.client(), NoDispatch: true,
		Sites: []Site{{LicenceKey: vs[0].LicenceKey}}})
	ctx := context.Background()
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			gen := wire.Legacy
			if v.Profile == "current" {
				gen = wire.Current
			}
			command, connector := v.Fields.Get("BX_COMMAND"), v.Fields.Get("CONNECTOR")
			url := s.PortalEndpoint()
			if gen == wire.Current {
				url += "?connector=" + connector + "&command=" + command
			}
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(v.Fields.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("x-bitrix-licence", v.Fields.Get("BX_LICENCE"))
			if gen == wire.Current {
				req.Header.Set("User-Agent", "Bitrix Connector Client CP")
				req.Header.Set("Referer", v.Fields.Get("BX_DOMAIN"))
			} else {
				req.Header.Set("User-Agent", "Bitrix Connector Client")
			}
			before := len(portal.packets())
			resp, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if r, err := wire.ParseResponse(body); resp.StatusCode != http.StatusOK || err != nil || !r.OK {
				t.Fatalf("HTTP %d %s: %v", resp.StatusCode, body, err)
			}
			site, err := s.store.siteByLicence(ctx, v.Fields.Get("BX_LICENCE"))
			if err != nil {
				t.Fatal(err)
			}
			if site.generation() != gen || site.domain != v.Fields.Get("BX_DOMAIN") {
				t.Fatalf("site %s is %v at %q after the packet, want %v", site.site.licence(), site.generation(), site.domain, gen)
			}
			switch command {
			case openlines.MethodSaveSettings:
				var args []map[string]any
				if err := json.Unmarshal(v.DataPHP, &args); err != nil || len(args) != 1 {
					t.Fatalf("data_php: %v", err)
				}
				l, err := s.store.lineBy(ctx, s.store.rdb(), `site_id = ? AND line = ? AND connector = ?`, site.id, v.Fields.Get("LINE"), connector)
				if err != nil || l == nil {
					t.Fatalf("line connector: %v %v", l, err)
				}
				for k, want := range args[0] {
					w, _ := want.(string) // an empty array is an empty setting
					if l.params[k] != w {
						t.Errorf("setting %s = %q, want %q", k, l.params[k], w)
					}
				}
				if len(l.params) != len(args[0]) {
					t.Errorf("settings %v, want the %d of the packet", l.params, len(args[0]))
				}
			case openlines.MethodTestConnect:
				got := portal.packets()[before:]
				if len(got) != 1 || got[0].Command != openlines.CommandTestConnect {
					t.Fatalf("the portal got %d packets, want the server's testConnect", len(got))
				}
				raw, _ := base64.StdEncoding.DecodeString(got[0].RawData)
				want := `s:7:"#EMPTY#";`
				if gen == wire.Current {
					want = `s:13:"#EMPTY_ARRAY#";`
				}
				if string(raw) != want {
					t.Errorf("the server's testConnect DATA %s, want %s", raw, want)
				}
			}
		})
	}
}

// echoItem is an echo webhook item with empty files and attachments.
func echoItem(chat string, n int) []byte {
	return []byte(`{"user":{"id":"u-` + chat + `"},"message":{"id":"` + itoa(n) + `","text":"hi","files":[],"attachments":[]},"chat":{"id":"` + chat + `"}}`)
}

// TestPushStubsPerGeneration: the server stubs each site's packets in the site's generation, byte for byte:
// empty arrays are #EMPTY_ARRAY# to a current portal and #EMPTY# to a legacy one, DATA of a packet without
// items is s:13:"#EMPTY_ARRAY#"; or s:7:"#EMPTY#";.
func TestPushStubsPerGeneration(t *testing.T) {
	for _, tc := range []struct {
		version    string
		emptyArray string
		itemless   string
	}{
		{wire.CurrentVersion, `s:5:"files";s:13:"#EMPTY_ARRAY#";s:11:"attachments";s:13:"#EMPTY_ARRAY#";`, `s:13:"#EMPTY_ARRAY#";`},
		{wire.LegacyVersion, `s:5:"files";s:7:"#EMPTY#";s:11:"attachments";s:7:"#EMPTY#";`, `s:7:"#EMPTY#";`},
	} {
		t.Run(tc.version, func(t *testing.T) {
			p := newFakePortal(t, "key-stubs-"+tc.version, nil)
			p.version.Store(tc.version)
			other := newFakePortal(t, "key-stubs-other-"+tc.version, nil)
			s := newTestServer(t, p, Config{Sites: []Site{other.site()}})
			other.setServer(s.PortalEndpoint())
			hook := p.connect("echo", "1", map[string]string{"entity": "bot-1"})
			if code, body := postWebhook(t, hook, echoItem("c", 1)); code != 200 {
				t.Fatalf("webhook: %d %s", code, body)
			}
			other.connect("echo", "2", map[string]string{"entity": "bot-1"}) // takes the bot: deactivateConnector to p
			p.mustCall("testConnect", "echo", "1")
			eventually.True(t, 5*time.Second, "the message and deactivateConnector", func() bool {
				var msg, deact bool
				for _, pk := range p.Packets() {
					msg = msg || pk.Command == openlines.CommandReceivingMessage
					deact = deact || pk.Command == openlines.CommandDeactivateConnector
				}
				return msg && deact
			})
			for _, pk := range p.Packets() {
				raw, err := base64.StdEncoding.DecodeString(pk.RawData)
				if err != nil {
					t.Fatal(err)
				}
				switch pk.Command {
				case openlines.CommandReceivingMessage:
					if !strings.Contains(string(raw), tc.emptyArray) {
						t.Errorf("receivingMessage DATA %s, want %s in it", raw, tc.emptyArray)
					}
				case openlines.CommandDeactivateConnector, openlines.CommandTestConnect:
					if string(raw) != tc.itemless {
						t.Errorf("%s DATA %s, want %s", pk.Command, raw, tc.itemless)
					}
				}
			}
		})
	}
}

// TestCurrentSiteAcknowledgedByAnswer: a current portal (BX_VERSION 22.800.0) answers OK and never calls
// setStatusDelivered; every message reaches it once, the queue empties, nothing is dead-lettered, and no line
// waits for a confirmation (the clock never moves, so a wait would never end).
func TestCurrentSiteAcknowledgedByAnswer(t *testing.T) {
	eachDB(t, testCurrentSiteAcknowledgedByAnswer)
}

func testCurrentSiteAcknowledgedByAnswer(t *testing.T, dsn string) {
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-current", clk)
	p.version.Store(wire.CurrentVersion)
	s := newTestServer(t, p, Config{DSN: dsn, Clock: clk, Queue: Policy{Batch: 10}})
	const lines, perLine = 3, 40
	for l := 1; l <= lines; l++ {
		hook := p.connect("echo", itoa(l), nil)
		for i := 0; i < perLine; i += 5 {
			if code, body := postWebhook(t, hook, echoItems("c"+itoa(l), i, 5)); code != 200 {
				t.Fatalf("webhook: %d %s", code, body)
			}
		}
	}
	eventually.True(t, 10*time.Second, "every message", func() bool { return len(p.Events()) == lines*perLine })
	settle(t, s)
	_, events, dups, overlaps := p.counts()
	if events != lines*perLine || dups != 0 || overlaps != 0 {
		t.Fatalf("%d messages, %d delivered twice, %d concurrent packets", events, dups, overlaps)
	}
	st, err := s.QueueStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 0 || st.Dead != 0 || st.Blocked != 0 {
		t.Fatalf("queue %+v", st)
	}
	for _, l := range st.Lines {
		if l.State != "idle" || l.Profile != "current" {
			t.Errorf("line %+v", l)
		}
	}
	if n := p.confirms.Load(); n != 0 {
		t.Errorf("the portal called setStatusDelivered %d times", n)
	}
}

// TestLegacySiteAcknowledgedBySetStatusDelivered: a legacy portal's items are deleted by its
// setStatusDelivered within ConfirmTimeout (here after its answer); items it does not confirm are sent again
// once the confirmation deadline and the first block (1 min) have passed on the clock, and only then.
func TestLegacySiteAcknowledgedBySetStatusDelivered(t *testing.T) {
	eachDB(t, testLegacySiteAcknowledgedBySetStatusDelivered)
}

func testLegacySiteAcknowledgedBySetStatusDelivered(t *testing.T, dsn string) {
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-legacy", clk)
	p.version.Store(wire.LegacyVersion)
	p.async.Store(true) // confirms after it answered
	s := newTestServer(t, p, Config{DSN: dsn, Clock: clk, Workers: 1, Queue: Policy{ConfirmTimeout: 30 * time.Second}})
	hook := p.connect("echo", "1", nil)
	postWebhook(t, hook, echoItems("c", 1, 3))
	eventually.True(t, 5*time.Second, "confirmed delivery", func() bool { return queueLen(t, s) == 0 })
	settle(t, s)

	p.noConf.Store(true)
	postWebhook(t, hook, echoItems("c", 10, 2))
	eventually.True(t, 5*time.Second, "the unconfirmed packet", func() bool { return len(p.attemptTimes()) == 2 })
	settle(t, s)
	st, _ := s.QueueStats(context.Background())
	if len(st.Lines) != 1 || st.Lines[0].State != "awaiting" || !st.Lines[0].NextAt.Equal(t0.Add(30*time.Second)) || st.Lines[0].Profile != "legacy" {
		t.Fatalf("stats after an unconfirmed packet: %+v", st.Lines)
	}
	clk.Set(t0.Add(30 * time.Second)) // the deadline: the line is blocked for the first period
	eventually.True(t, 5*time.Second, "the block", func() bool {
		st, _ := s.QueueStats(context.Background())
		return st.Blocked == 1
	})
	clk.Set(t0.Add(30*time.Second + time.Minute - time.Millisecond))
	settle(t, s)
	if n := len(p.attemptTimes()); n != 2 {
		t.Fatalf("%d attempts before the block ended", n)
	}
	p.noConf.Store(false)
	clk.Set(t0.Add(30*time.Second + time.Minute))
	eventually.True(t, 5*time.Second, "the redelivery, confirmed", func() bool { return len(p.attemptTimes()) == 3 && queueLen(t, s) == 0 })
	if ev := p.Events(); len(ev) != 5 {
		t.Fatalf("%d distinct messages, want 5", len(ev))
	}
}

// TestConfiguredProfile: a site configured current is acknowledged by the answer whatever BX_VERSION it
// sends; one configured legacy waits for setStatusDelivered even from a current BX_VERSION; auto follows the
// last verified packet.
func TestConfiguredProfile(t *testing.T) {
	for _, tc := range []struct {
		profile SiteProfile
		version string
		want    wire.Profile
	}{
		{ProfileAuto, "", wire.Legacy},
		{ProfileAuto, "21.1100.0", wire.Legacy},
		{ProfileAuto, "22.800.0", wire.Current},
		{ProfileAuto, "24.100.3", wire.Current},
		{ProfileAuto, "olctl-go/1", wire.Legacy},
		{"", "22.800.0", wire.Current},
		{ProfileCurrent, "21.1100.0", wire.Current},
		{ProfileLegacy, "22.800.0", wire.Legacy},
	} {
		r := siteRec{site: Site{Profile: tc.profile}, version: tc.version}
		if got := r.generation(); got != tc.want {
			t.Errorf("%q with BX_VERSION %q: %v, want %v", tc.profile, tc.version, got, tc.want)
		}
	}
	if err := (Site{LicenceKey: "k", Profile: "Current"}).validate(); err == nil {
		t.Error("an unknown profile was accepted")
	}
	if p, err := ParseSiteProfile(" Legacy "); err != nil || p != ProfileLegacy {
		t.Errorf("ParseSiteProfile: %q %v", p, err)
	}

	// Configured current, a legacy BX_VERSION, no confirmations: the answers acknowledge.
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-configured", clk)
	p.noConf.Store(true)
	site := p.site()
	site.Profile = ProfileCurrent
	s := newTestServer(t, nil, Config{Clock: clk, Sites: []Site{site}})
	p.setServer(s.PortalEndpoint())
	hook := p.connect("echo", "1", nil)
	postWebhook(t, hook, echoItems("c", 1, 4))
	eventually.True(t, 5*time.Second, "acknowledged by the answers", func() bool { return len(p.Events()) == 4 && queueLen(t, s) == 0 })
}

// TestSetChatNameOnlyToCurrentSites: setChatName goes to a current portal as one map (not a list), and is
// not sent to a legacy one (it is done with, and the line goes on).
func TestSetChatNameOnlyToCurrentSites(t *testing.T) {
	for _, version := range []string{wire.CurrentVersion, wire.LegacyVersion} {
		t.Run(version, func(t *testing.T) {
			p := newFakePortal(t, "key-chatname-"+version, nil)
			p.version.Store(version)
			s := newTestServer(t, p, Config{})
			hook := p.connect("echo", "1", nil)
			body := `[{"command":"setChatName","name":"Ann (web chat)","chat_id":"c1","user_id":"u1"},` +
				`{"user":{"id":"u1"},"message":{"id":"after","text":"hi"},"chat":{"id":"c1"}}]`
			if code, b := postWebhook(t, hook, []byte(body)); code != 200 {
				t.Fatalf("webhook: %d %s", code, b)
			}
			eventually.True(t, 5*time.Second, "the message after it", func() bool { return len(p.Events()) == 1 && queueLen(t, s) == 0 })
			var names []gotPacket
			for _, pk := range p.Packets() {
				if pk.Command == openlines.CommandSetChatName {
					names = append(names, pk)
				}
			}
			if version == wire.LegacyVersion {
				if len(names) != 0 {
					t.Fatalf("a legacy portal got setChatName: %+v", names)
				}
				return
			}
			if len(names) != 1 {
				t.Fatalf("%d setChatName packets", len(names))
			}
			var cn openlines.ChatName
			if err := wire.Bind(names[0].Data, &cn); err != nil || cn.Name != "Ann (web chat)" || cn.ChatID != "c1" || cn.UserID != "u1" {
				t.Fatalf("setChatName DATA %#v: %+v %v", names[0].Data, cn, err)
			}
		})
	}
}

// TestConnectorLessMethods: listConnector, infoConnectorsLine(lineId), deleteLine(lineId) and
// saveDomainSite(url) come with CONNECTOR all and an empty LINE (docs/protocol.md §3.1); sendMessage,
// updateMessage and deleteMessage with all are refused.
func TestConnectorLessMethods(t *testing.T) {
	p := newFakePortal(t, "key-all", nil)
	p.version.Store(wire.CurrentVersion)
	s := newTestServer(t, p, Config{})
	p.connect("echo", "5", nil)
	if out := p.mustCall(openlines.MethodListConnector, openlines.ConnectorAll, ""); out["echo"] != "echo" {
		t.Errorf("listConnector: %v", out)
	}
	if out := p.mustCall(openlines.MethodInfoConnectorsLine, openlines.ConnectorAll, "", "5"); out["echo"] == nil {
		t.Errorf("infoConnectorsLine: %v", out)
	}
	for _, m := range []string{openlines.MethodSendMessage, openlines.MethodUpdateMessage, openlines.MethodDeleteMessage} {
		if code := callErr(t, p, m, openlines.ConnectorAll, "", []any{wire.NewMap("chat", wire.NewMap("id", "c"))}); code != wire.CodeBadPacket {
			t.Errorf("%s with all: %q, want BAD_PACKET", m, code)
		}
	}
	moved := "https://portal-moved.example.com"
	p.mustCall(openlines.MethodSaveDomainSite, openlines.ConnectorAll, "", moved+"/")
	site, err := s.store.siteByLicence(context.Background(), wire.Licence(p.key))
	if err != nil || site.domain != moved {
		t.Errorf("domain after saveDomainSite: %q %v", site.domain, err)
	}
	if code := callErr(t, p, openlines.MethodSaveDomainSite, openlines.ConnectorAll, "", "ftp://x"); code != wire.CodeBadPacket {
		t.Errorf("saveDomainSite(ftp://x): %q", code)
	}
	if out := p.mustCall(openlines.MethodDeleteLine, openlines.ConnectorAll, "", "5"); out["DELETED"] != float64(1) {
		t.Errorf("deleteLine: %v", out)
	}
}

// TestMessageIDsUniqueInPacket: a legacy portal confirms an item by (chat.id, message.id), so a packet never
// holds two items with the same pair (the second waits for the next packet), and an item without
// message.id gets one of its own.
func TestMessageIDsUniqueInPacket(t *testing.T) {
	ps, err := prepare([]Incoming{{Item: wire.NewMap("user", wire.NewMap("id", "u"), "message", wire.NewMap("text", "hi"), "chat", wire.NewMap("id", "c"))},
		{Item: wire.NewMap("user", wire.NewMap("id", "u"), "chat", wire.NewMap("id", "c"))}}, "echo")
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		v, err := wire.Unserialize(p.blob)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.msgID, "olctl-") || scalarString(path(v, "message", "id")) != p.msgID || p.chatID != "c" {
			t.Errorf("item %d: message id %q, stored %v", i, p.msgID, v)
		}
	}
	if ps[0].msgID == ps[1].msgID {
		t.Error("two items got the same message id")
	}

	p := newFakePortal(t, "key-unique", nil)
	s := newTestServer(t, p, Config{Workers: 1})
	hook := p.connect("echo", "1", nil)
	item := func(msg, dedup string) string {
		return `{"user":{"id":"u"},"message":{"id":"` + msg + `","text":"` + dedup + `"},"chat":{"id":"c"},"dedup":"` + dedup + `"}`
	}
	body := "[" + item("m1", "a") + "," + item("m1", "b") + "," + item("m2", "c") + "]" // m1 twice: an edit after the message
	if code, b := postWebhook(t, hook, []byte(body)); code != 200 {
		t.Fatalf("webhook: %d %s", code, b)
	}
	eventually.True(t, 5*time.Second, "all three confirmed", func() bool { return queueLen(t, s) == 0 })
	var sizes []int
	for _, pk := range p.Packets() {
		if pk.Command == openlines.CommandReceivingMessage {
			sizes = append(sizes, len(pk.Items))
		}
	}
	if !slices.Equal(sizes, []int{1, 2}) {
		t.Fatalf("packets of %v items, want [1 2]", sizes)
	}
}
