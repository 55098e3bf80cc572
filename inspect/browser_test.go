package inspect_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/inspect"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

var screenshots = flag.Bool("screenshots", false, "write the browser test's screenshots into docs/ (else into a temporary directory)")

const (
	licenceKey = "inspector-licence-key-0001"
	hmacSecret = "inspector-hmac-secret-0001"
)

// browser starts headless Chromium for the test, on a fresh profile. Without Chromium the test skips
// loudly, except under CI=true, where it fails.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no chromium on PATH: the browser test must run in CI (.ci/run installs it)")
		}
		t.Skip("SKIPPING the browser test: no chromium on PATH (apt-get install chromium)")
	}
	profile, err := os.MkdirTemp("", "olctl-inspect-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // Chromium's children may still write there for a moment after it exits
		eventually.True(t, 10*time.Second, "Chromium to leave its profile "+profile, func() bool { return os.RemoveAll(profile) == nil })
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1440, 1000))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// tab opens url in a new tab of the browser of ctx and waits until its stream is live.
func tab(t *testing.T, ctx context.Context, url string) context.Context {
	t.Helper()
	tctx, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	tctx, cancelT := context.WithTimeout(tctx, 2*time.Minute)
	t.Cleanup(cancelT)
	if err := chromedp.Do(tctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	poll(t, tctx, "the page's stream", `document.getElementById("conn").textContent === "live"`)
	return tctx
}

// poll waits until expr (JavaScript) is truthy and returns its value as a string.
func poll(t *testing.T, ctx context.Context, what, expr string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Poll[any](expr, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(45*time.Second)))
	if err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
	return fmt.Sprint(v)
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func keys(t *testing.T, ctx context.Context, k string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(k)); err != nil {
		t.Fatalf("key %q: %v", k, err)
	}
}

func click(t *testing.T, ctx context.Context, css string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(css))); err != nil {
		t.Fatalf("clicking %s: %v", css, err)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := t.TempDir()
	if *screenshots {
		dir = filepath.Join("..", "docs")
	}
	poll(t, ctx, "the new rows' highlight to fade", `document.querySelector(".fresh") === null`)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot %s: %d bytes, not a PNG", name, len(png))
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d KiB)", path, len(png)>>10)
}

// packetJS finds the id of the newest packet of the page that matches a condition on p, its summary.
func packetJS(cond string) string {
	return `(() => { const b = [...document.querySelectorAll("tbody.packet")].reverse().find(b => { const p = b.packet; return ` +
		cond + `; }); return b ? b.packet.id : 0; })()`
}

// checkLabels checks that every control has an accessible name, by the page's accessibility tree and by
// its attributes, and that one packet is in the tab order.
func checkLabels(t *testing.T, ctx context.Context) {
	t.Helper()
	tree, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		t.Fatalf("accessibility tree: %v", err)
	}
	buttons := 0
	for _, n := range tree.Nodes {
		if n.Ignored || n.Role == nil {
			continue
		}
		switch role := strings.Trim(string(n.Role.Value), `"`); role {
		case "button", "textbox", "checkbox", "combobox", "link":
			buttons++
			if n.Name == nil || strings.Trim(string(n.Name.Value), `"`) == "" {
				t.Errorf("a %s without an accessible name (node %s)", role, n.NodeID)
			}
		}
	}
	if buttons == 0 {
		t.Error("the accessibility tree has no control")
	}
	unlabelled := eval[[]string](t, ctx, `[...document.querySelectorAll("button, input, textarea, select")].filter(e =>
		!(e.getAttribute("aria-label") || e.getAttribute("aria-labelledby") || e.textContent.trim() || (e.labels && e.labels.length)))
		.map(e => e.outerHTML.slice(0, 80))`)
	if len(unlabelled) > 0 {
		t.Errorf("controls without a label: %v", unlabelled)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("button.toggle[tabindex='0']").length`); n != 1 {
		t.Errorf("%d packets in the tab order, want 1", n)
	}
}

// system is a Bot Framework fake, a connector server and a portal, each side with its inspector.
type system struct {
	bf         *bftest.Server
	srv        *connector.Server
	portal     *portal.Portal
	portalDown atomic.Bool
	mu         sync.Mutex
	texts      []string
	webhook    string
	portalPage string
	serverPage string
}

func startSystem(t *testing.T) *system {
	t.Helper()
	ctx := context.Background()
	s := &system{bf: bftest.NewServer(t)}
	var handler atomic.Pointer[http.Handler]
	notYet := http.NotFoundHandler()
	handler.Store(&notYet)
	portalHTTP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.portalDown.Load() {
			http.Error(w, "portal down for the test", http.StatusServiceUnavailable)
			return
		}
		(*handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(portalHTTP.Close)
	creds := wire.Credentials{Mode: wire.HMACSHA256, LicenceKey: licenceKey, Secrets: []string{hmacSecret}}
	channels := connector.NewChannels()
	if err := channels.Register(botframework.ID, botframework.New(botframework.WithOpenIDMetadataURL(s.bf.OpenIDMetadataURL()),
		botframework.WithTokenURL(s.bf.TokenURL()), botframework.WithRetry(3, 10*time.Millisecond, 100*time.Millisecond))); err != nil {
		t.Fatal(err)
	}
	srv, err := connector.NewServer(connector.Config{
		Sites:    []connector.Site{{LicenceKey: licenceKey, Mode: wire.HMACSHA256, Secrets: creds.Secrets, Domain: portalHTTP.URL}},
		Channels: channels, Inspect: &inspect.Options{}, AllowPrivateNetworks: true,
		Queue: connector.Policy{Schedule: []time.Duration{time.Second}}, // a push fails once, then its items are dead letters
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { _ = srv.Close() })
	s.srv = srv
	p, err := portal.New(ctx, portal.Config{Credentials: creds, ServerURL: srv.URL(), Domain: portalHTTP.URL, DataDir: t.TempDir(),
		Inspect: &inspect.Options{}, FileOptions: []files.Option{files.WithAllowPrivateNetworks(true)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	s.portal = p
	p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.texts = append(s.texts, m.Text)
		return nil
	})
	ph := p.Handler()
	handler.Store(&ph)
	data, err := p.Client().Connect(ctx, client.Settings{"bot_handle": "olctl-inspector-bot", "app_id": s.bf.AppID(),
		"app_secret": s.bf.AppSecret()}, client.Connector(botframework.ID), client.Line("3"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	s.webhook, _ = data["URL_WEBHOOK"].(string)
	pp := httptest.NewServer(inspect.Guard(p.Inspector(), ""))
	t.Cleanup(pp.Close)
	sp := httptest.NewServer(inspect.Guard(srv.Inspector(), ""))
	t.Cleanup(sp.Close)
	s.portalPage, s.serverPage = pp.URL+"/", sp.URL+"/"
	return s
}

func (s *system) delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.texts)
}

// say sends a customer message through the fake Bot Framework, as olctl bf say does.
func (s *system) say(t *testing.T, conversation, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.bf.SendUserMessage(ctx, s.webhook, conversation, "29:customer", text); err != nil {
		t.Fatalf("bf say: %v", err)
	}
}

// TestBrowser drives both inspectors in headless Chromium: a customer's message arrives live on the
// portal's page, opens with the keyboard to its decoded text, is replayed and suppressed as a duplicate;
// on the connector server's page a push that failed becomes a dead letter, whose redrive delivers it.
// Every control has a label, and no secret is on either page.
func TestBrowser(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	ctx := browser(t) // after the servers: its cleanup, first, ends the pages' streams that their Close waits for
	portalTab := tab(t, ctx, s.portalPage)

	const text = "Hello from the browser test"
	s.say(t, "conv-browser", text)
	id := poll(t, portalTab, "the customer's message, live", packetJS(`p.command === "receivingMessage" && p.direction === "in"`))

	// The keyboard: Tab reaches the packets, Home, End and the arrows move, Enter opens.
	eval[bool](t, portalTab, `(document.activeElement.blur(), true)`)
	for i := 0; i < 10 && !eval[bool](t, portalTab, `document.activeElement.matches("button.toggle")`); i++ {
		keys(t, portalTab, kb.Tab)
	}
	focused := `document.activeElement.closest("tbody.packet").packet.id`
	keys(t, portalTab, kb.Home)
	first := eval[int](t, portalTab, focused)
	keys(t, portalTab, kb.ArrowDown)
	if second := eval[int](t, portalTab, focused); second <= first {
		t.Fatalf("ArrowDown moved from packet %d to %d", first, second)
	}
	keys(t, portalTab, kb.End)
	for i := 0; i < 50 && fmt.Sprint(eval[int](t, portalTab, focused)) != id; i++ {
		keys(t, portalTab, kb.ArrowUp)
	}
	if got := fmt.Sprint(eval[int](t, portalTab, focused)); got != id {
		t.Fatalf("the arrows did not reach packet %s (at %s)", id, got)
	}
	keys(t, portalTab, kb.Enter)
	row := `tbody.packet[data-id="` + id + `"]`
	poll(t, portalTab, "the decoded text", `(document.querySelector('`+row+` pre.data') || {}).textContent?.includes(`+"`"+`"text": "`+text+`"`+"`"+`)`)
	if got := eval[string](t, portalTab, `document.querySelector('`+row+` button.toggle').getAttribute("aria-expanded")`); got != "true" {
		t.Errorf("aria-expanded %q after Enter", got)
	}
	poll(t, portalTab, "the item's events", `document.querySelector('`+row+` ol.notes')?.textContent.includes("fired OnReceivedMessage")`)
	checkLabels(t, portalTab)
	screenshot(t, portalTab, "inspector-portal.png")

	// Replay: posted again, signed afresh, and the portal skips the duplicate.
	click(t, portalTab, row+` button.replay`)
	rid := poll(t, portalTab, "the replay", packetJS(`p.replay_of === `+id))
	rrow := `tbody.packet[data-id="` + rid + `"]`
	poll(t, portalTab, "the duplicate suppressed", `document.querySelector('`+rrow+` td.outcome').textContent === "1 duplicate"`)
	click(t, portalTab, rrow+` button.toggle`)
	poll(t, portalTab, "the replay's notes", `document.querySelector('`+rrow+` ol.notes')?.textContent.includes("duplicate")`)
	if code := eval[string](t, portalTab, `document.querySelector('`+rrow+` td.code').textContent`); code != "OK" {
		t.Errorf("the replay was answered %q, want OK (a fresh signature)", code)
	}
	if n := s.delivered(); n != 1 {
		t.Errorf("%d messages delivered after the replay, want 1", n)
	}

	// The connector server: the line, then a push that fails until its items are dead letters, redriven.
	serverTab := tab(t, ctx, s.serverPage)
	poll(t, serverTab, "the line and its flags", `document.getElementById("tables").textContent.includes("ACTIVE CONNECTION REGISTER")`)
	s.portalDown.Store(true)
	s.say(t, "conv-browser", "A message for a portal that is down")
	poll(t, serverTab, "the dead letter", `document.querySelector("button.redrive") !== null`)
	s.portalDown.Store(false)
	checkLabels(t, serverTab)
	screenshot(t, serverTab, "inspector-connector.png")
	before := eval[int](t, serverTab, packetJS(`true`))
	click(t, serverTab, "button.redrive")
	poll(t, serverTab, "the redrive delivered",
		packetJS(`p.id > `+fmt.Sprint(before)+` && p.command === "receivingMessage" && p.direction === "out" && p.code === "OK"`))
	poll(t, serverTab, "no dead letter left", `document.querySelector("button.redrive") === null && document.getElementById("tables").textContent.includes("No dead letter.")`)
	poll(t, portalTab, "the redriven message at the portal", packetJS(`p.command === "receivingMessage" && p.direction === "in" && p.id > `+rid))
	if n := s.delivered(); n != 2 {
		t.Errorf("%d messages delivered after the redrive, want 2", n)
	}

	// No secret on either page, with the settings that carried the app secret open.
	click(t, serverTab, `tbody.packet[data-id="`+poll(t, serverTab, "saveSettings", packetJS(`p.command === "saveSettings"`))+`"] button.toggle`)
	poll(t, serverTab, "the settings, masked", `document.body.textContent.includes('"app_secret": "********"')`)
	click(t, portalTab, `tbody.packet[data-id="`+poll(t, portalTab, "saveSettings", packetJS(`p.command === "saveSettings"`))+`"] button.toggle`)
	poll(t, portalTab, "the settings, masked", `document.body.textContent.includes('"app_secret": "********"')`)
	sum := md5.Sum([]byte(licenceKey))
	for name, c := range map[string]context.Context{"portal": portalTab, "connector": serverTab} {
		html := eval[string](t, c, `document.documentElement.outerHTML + [...document.querySelectorAll("textarea")].map(a => a.value).join()`)
		for _, secret := range []string{s.bf.AppSecret(), licenceKey, hex.EncodeToString(sum[:]), hmacSecret} {
			if strings.Contains(html, secret) {
				t.Errorf("the %s page shows the secret %q", name, secret)
			}
		}
	}
}

// TestBrowserTenThousandPackets: with 10 000 packets in the recorder's past and 10 000 more streamed while
// the page is open, the page lists the newest View packets and stays fast.
func TestBrowserTenThousandPackets(t *testing.T) {
	t.Parallel()
	rec := inspect.NewRecorder(inspect.Options{})
	endpoint := rec.Incoming(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { wire.WriteResponse(w, []any{}, nil) }))
	signer, err := wire.NewSigner(wire.Credentials{LicenceKey: licenceKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fields, _ := (&wire.Packet{Command: "receivingMessage", Connector: "botframework.webchat", Line: "3",
		Data: []any{wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "m1", "text", "hi"))}}).Encode(wire.ToPortal)
	signed, _ := signer.Sign(fields)
	body := signed.Encode()
	push := func(n int) {
		for i := 0; i < n; i++ {
			req := httptest.NewRequest(http.MethodPost, "/pub/imconnector/", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			endpoint.ServeHTTP(httptest.NewRecorder(), req)
		}
	}
	push(10000)
	page := httptest.NewServer(rec.Handler(inspect.Page{Title: "Ten thousand"}))
	t.Cleanup(page.Close)
	ctx := browser(t)
	start := time.Now()
	c := tab(t, ctx, page.URL+"/")
	poll(t, c, "the ring drawn", `document.querySelectorAll("tbody.packet").length === 500`)
	loaded := time.Since(start)
	start = time.Now()
	go push(10000)
	poll(t, c, "the stream's 10 000 packets", `document.getElementById("counts").textContent.startsWith("20000 packets recorded")`)
	streamed := time.Since(start)
	rows := eval[int](t, c, `document.querySelectorAll("tbody.packet").length`)
	newest := eval[int](t, c, `[...document.querySelectorAll("tbody.packet")].pop().packet.id`)
	start = time.Now()
	eval[bool](t, c, `(document.querySelector("tbody.packet button.toggle").click(), true)`)
	if _, err := chromedp.Run(c, chromedp.Poll[bool](`document.querySelector("tbody.packet pre.data") !== null`,
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("the packet did not open: %s", eval[string](t, c, `document.querySelector("tbody.packet").outerHTML.slice(0, 3000)`))
	}
	opened := time.Since(start)
	t.Logf("page with 10 000 packets passed: drawn in %v; 10 000 more streamed and drawn in %v; %d rows; a packet opened in %v",
		loaded, streamed, rows, opened)
	if rows != 500 || newest != 20000 {
		t.Errorf("%d rows, newest %d; want 500 ending at 20000", rows, newest)
	}
	if loaded > 5*time.Second || opened > 2*time.Second {
		t.Errorf("too slow: drawn in %v, opened in %v", loaded, opened)
	}
}
