package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/emoji"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

// phpAnswer is one line of testdata/php/packets.php's output: a packet it posted and the portal's answer.
type phpAnswer struct {
	Name    string `json:"name"`
	Command string `json:"command"`
	Line    string `json:"line"`
	Data    string `json:"data"`
	Status  int    `json:"status"`
	Answer  string `json:"answer"`
}

// lookPHP returns the php binary; without one the test skips loudly, or fails under CI=true (CI installs
// php-cli).
func lookPHP(t *testing.T) string {
	t.Helper()
	php, err := exec.LookPath("php")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("php is not installed: the PHP interop test must run in CI (install php-cli)")
		}
		t.Skip("SKIPPING PHP interop test: php is not installed (apt-get install php-cli)")
	}
	return php
}

// TestPHPPacketsIntoPortal runs testdata/php/packets.php, which builds a current-dialect packet of every
// server → portal command with PHP's own serialize, base64_encode and md5 (stubs, field order, signature
// as a connector server makes them) and posts each with PHP's own HTTP to a portal on 127.0.0.1. Every
// answer is checked, and every event the portal fired: the messages (an empty array in every place,
// type_message "Message", the hex escape decoded, the big-file warning, the location rendered with its
// float coordinates), the delivery, the reading, the flat error, a block distinct from the unblock, the chat
// name and the deactivation, after which the line is refused. On each database.
func TestPHPPacketsIntoPortal(t *testing.T) {
	php := lookPHP(t)
	for _, db := range dbKinds() {
		t.Run(db.name, func(t *testing.T) { testPHPPackets(t, php, db) })
	}
}

func testPHPPackets(t *testing.T, php string, db dbKind) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const active, unknown, deactivate = "3", "4", "5"
	ev := newEvents()
	p, err := portal.New(ctx, portal.Config{
		Credentials: wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey},
		// The portal makes no call here; its client needs somewhere to point.
		ServerURL: "http://127.0.0.1:9", Domain: "http://127.0.0.1:9",
		DB: db.open(t), DataDir: t.TempDir(), Profile: wire.Current,
		// As a current Bitrix portal: hex escapes decoded, Unicode emoji kept.
		EmojiOptions: []emoji.Option{emoji.WithIcons(false)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ev.subscribe(p)
	open := openlines.LineStatus{Active: true, Connection: true, Register: true}
	for _, line := range []string{active, deactivate} {
		if err := p.SetLineStatus(ctx, openlines.Botframework, line, open); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()

	script, err := filepath.Abs(filepath.Join("testdata", "php", "packets.php"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, php, script, srv.URL+"/pub/imconnector/", licenceKey, connector.DefaultVersion, active, unknown, deactivate)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("php: %v\n%s", err, stderr.Bytes())
	}
	var answers []phpAnswer
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var a phpAnswer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("php printed %q: %v", sc.Text(), err)
		}
		t.Logf("%-26s line %s: %d %s", a.Name, a.Line, a.Status, a.Answer)
		answers = append(answers, a)
	}
	if len(answers) != 11 {
		t.Fatalf("php posted %d packets, want 11", len(answers))
	}
	checkPHPAnswers(t, answers, active)
	if t.Failed() {
		return // a refused packet fired nothing to wait for
	}
	checkPHPEvents(ctx, t, p, ev, deactivate)
}

// checkPHPAnswers checks the DATA PHP made (the stubs as meant) and the portal's answer to each packet.
func checkPHPAnswers(t *testing.T, answers []phpAnswer, active string) {
	t.Helper()
	for i, a := range answers {
		data, err := base64.StdEncoding.DecodeString(a.Data)
		if err != nil {
			t.Fatalf("%s: DATA %q: %v", a.Name, a.Data, err)
		}
		if a.Status != 200 {
			t.Errorf("%s: HTTP %d", a.Name, a.Status)
		}
		var ans struct {
			OK    any             `json:"OK"`
			Data  json.RawMessage `json:"DATA"`
			Error []struct {
				Code string `json:"CODE"`
			} `json:"ERROR"`
		}
		if err := json.Unmarshal([]byte(a.Answer), &ans); err != nil {
			t.Errorf("%s: answer %q is not JSON: %v", a.Name, a.Answer, err)
			continue
		}
		code := ""
		if len(ans.Error) > 0 {
			code = ans.Error[0].Code
		}
		switch {
		case a.Command == openlines.CommandReceivingMessage && a.Line != active:
			// A line without status, and the line deactivated by the packet before.
			if ans.OK != false || code != string(wire.CodeNotActiveLine) {
				t.Errorf("%s to line %s: %s, want NOT_ACTIVE_LINE", a.Name, a.Line, a.Answer)
			}
		case a.Command == openlines.CommandTestConnect:
			if string(data) != `s:13:"#EMPTY_ARRAY#";` {
				t.Errorf("php's testConnect DATA is %s", data)
			}
			var d map[string]string
			if ans.OK != true || json.Unmarshal(ans.Data, &d) != nil || d["RESULT"] != "OK" {
				t.Errorf("testConnect: %s, want OK:true with DATA {RESULT: OK}", a.Answer)
			}
		default:
			if ans.OK != true || string(ans.Data) != "[]" {
				t.Errorf("%s: %s, want {\"OK\":true,\"DATA\":[]}", a.Name, a.Answer)
			}
		}
		if i == 0 {
			for _, want := range []string{`s:5:"files";s:13:"#EMPTY_ARRAY#";`, `s:11:"attachments";s:13:"#EMPTY_ARRAY#";`,
				`s:7:"picture";s:13:"#EMPTY_ARRAY#";`, `s:5:"extra";s:13:"#EMPTY_ARRAY#";`, `s:9:"last_name";s:7:"#EMPTY#";`,
				`s:15:"failed_big_file";b:1;`, `s:8:"latitude";d:59.93863;`, `s:12:"type_message";s:7:"Message";`} {
				if !strings.Contains(string(data), want) {
					t.Errorf("php's receivingMessage DATA lacks %s: %s", want, data)
				}
			}
		}
	}
}

// checkPHPEvents checks what the portal fired for PHP's packets.
func checkPHPEvents(ctx context.Context, t *testing.T, p *portal.Portal, ev *events, deactivate string) {
	t.Helper()
	ev.wait(ctx, t, "the events of every command", func() bool {
		return len(ev.messages) == 3 && len(ev.deliveries) == 1 && len(ev.readings) == 1 && len(ev.errors) == 1 &&
			len(ev.blocks) == 2 && len(ev.chatNames) == 1 && len(ev.statuses) == 1
	})
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, m := range ev.messages {
		if m.Connector != "botframework.webchat" || m.Line != "3" || m.Chat.ID != "php-conv-1" || m.UserID == "" {
			t.Errorf("message %q: connector %q line %q chat %q user %q", m.MessageID, m.Connector, m.Line, m.Chat.ID, m.UserID)
		}
	}
	byID := map[string]portal.Message{}
	for _, m := range ev.messages {
		byID[m.MessageID] = m
	}
	if m := byID["php-msg-1"]; m.Type != openlines.MessageNew || m.Text != "Is parcel 0 on its way? 👍" ||
		m.RawText != "Is parcel 0 on its way? :F09F918D:" || len(m.Files) != 0 || len(m.Attachments) != 0 ||
		m.User.Name != "Олег" || m.User.LastName != "Новиков" || m.Chat.Name != "" {
		t.Errorf("the message with empty arrays: type %q text %q raw %q files %v attachments %v user %+v chat %+v",
			m.Type, m.Text, m.RawText, m.Files, m.Attachments, m.User, m.Chat)
	}
	if m := byID["php-msg-2"]; !m.FailedBigFile || m.Text != portal.DefaultLocale.BigFile {
		t.Errorf("the big-file message: flag %v, text %q; want the warning alone", m.FailedBigFile, m.Text)
	}
	wantLoc := "I am here\nPalace Square\n2 Palace Embankment\nhttps://yandex.ru/maps/?ll=30.31413,59.93863&z=14&pt=30.31413,59.93863,comma"
	if m := byID["php-msg-3"]; m.Text != wantLoc || len(m.Attachments) != 1 || m.Attachments[0].Location == nil ||
		m.Attachments[0].Location.Coordinates.Latitude != "59.93863" {
		t.Errorf("the location: text %q attachments %+v, want %q", m.Text, m.Attachments, wantLoc)
	}
	if d := ev.deliveries[0]; len(d.ExternalIDs) != 1 || d.ExternalIDs[0] != "php-ext-1" || d.IM.ChatID != "118" || d.IM.MessageID != "40211" {
		t.Errorf("delivery: %+v", d)
	}
	if r := ev.readings[0]; r.Chat.ID != "php-conv-1" || r.Message.FirstID() != "php-ext-1" {
		t.Errorf("reading: %+v", r)
	}
	if e := ev.errors[0]; e.Code != "CONNECTOR_NOT_SEND_MESSAGE_CHAT" || e.ChatID != "118" || e.MessageID != "40212" ||
		e.Undelivered != "40212" || e.User == "" || !strings.Contains(e.Notice, "The messenger refused the message (HTTP 403)") ||
		e.Params.ErrorCode != "HTTP_403" {
		t.Errorf("error: %+v", e)
	}
	if b := ev.blocks; !b[0].Blocked || b[1].Blocked || b[0].UserID == "" || b[0].Chat.ID != "php-conv-1" {
		t.Errorf("block then unblock: %+v", b)
	}
	if c := ev.chatNames[0]; c.Name != "Олег (web chat)" || c.ChatID != "php-conv-1" || c.User == "" {
		t.Errorf("chat name: %+v", c)
	}
	if s := ev.statuses[0]; s.Line != deactivate || !s.Status.Error {
		t.Errorf("deactivation: %+v", s)
	}
	if st, _, err := p.LineStatus(ctx, openlines.Botframework, deactivate); err != nil || !st.Error || st.Open() {
		t.Errorf("line %s after deactivateConnector: %+v %v", deactivate, st, err)
	}
}
