package bftest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/olctl/olctl/connector/botframework/schema"
)

// sdkDir holds the npm project of the SDK check; its packages are installed with
// `npm ci --prefix bftest/testdata/sdkcheck` (CI does it in .ci/run).
var sdkDir = filepath.Join("testdata", "sdkcheck")

type sdkError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// TestSDKCheck runs Microsoft's botframework-connector npm client against the fake: the SDK validates the
// webhook tokens the fake mints (with its own ChannelValidation, keys from the fake's OpenID metadata), obtains
// a token from the fake's token endpoint through MSAL, and posts, replies to, updates and deletes activities,
// reading back the ids. It is skipped with a message when node or the packages are missing, except under
// CI=true.
func TestSDKCheck(t *testing.T) {
	t.Parallel()
	unavailable := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("SDK check cannot run under CI: %s", why)
		}
		t.Skipf("SDK check skipped: %s", why)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "botframework-connector", "package.json")); err != nil {
		unavailable("the npm packages are not installed: run `npm ci --prefix bftest/testdata/sdkcheck`")
	}

	s := NewServer(t, WithTLS(), WithChannelID("msteams"))
	ca := filepath.Join(t.TempDir(), "bftest-ca.pem")
	if err := os.WriteFile(ca, s.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	good, err := s.MintToken(Claims{})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := s.MintToken(Claims{Audience: "another-bot"})
	if err != nil {
		t.Fatal(err)
	}
	conv := "19:abc@thread.skype;messageid=1520/x y"
	cfg, _ := json.Marshal(map[string]string{
		"serviceUrl": s.ServiceURL(), "authority": s.AuthorityURL(), "openIdUrl": s.OpenIDMetadataURL(),
		"appId": s.AppID(), "appSecret": s.AppSecret(), "conversationId": conv, "channelId": "msteams",
		"goodToken": good, "badAudienceToken": bad,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "check.js", string(cfg))
	cmd.Dir = sdkDir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+ca)
	stdout, err := cmd.Output()
	var got struct {
		Error         string    `json:"error"`
		ValidAudience string    `json:"validAudience"`
		BadAudience   *sdkError `json:"badAudience"`
		Sent          string    `json:"sent"`
		Replied       string    `json:"replied"`
		Updated       string    `json:"updated"`
		Deleted       bool      `json:"deleted"`
		NotFound      *sdkError `json:"notFound"`
		Anonymous     *sdkError `json:"anonymous"`
	}
	if jerr := json.Unmarshal(stdout, &got); jerr != nil || err != nil || got.Error != "" {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node check.js: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}

	// Tokens: the SDK accepts the fake's token and refuses one for another bot.
	if got.ValidAudience != s.AppID() {
		t.Fatalf("SDK validated audience %q", got.ValidAudience)
	}
	if got.BadAudience == nil || got.BadAudience.Status != 401 {
		t.Fatalf("SDK accepted a token for another bot: %+v", got.BadAudience)
	}
	if s.TokensIssued() < 1 {
		t.Fatal("MSAL did not use the token endpoint")
	}

	// Activities: the ids the SDK read back are the fake's, and the SDK escaped the id as bftest's schema does.
	recs := s.Records()
	if len(recs) != 6 {
		t.Fatalf("%d calls: %+v", len(recs), recs)
	}
	base := "/v3/conversations/" + schema.EscapeSegment(conv) + "/activities"
	want := []struct {
		op             Op
		path, activity string
		status         int
	}{
		{OpSend, base, "", 200},
		{OpReply, base + "/" + schema.EscapeSegment(got.Sent), got.Sent, 200},
		{OpUpdate, base + "/" + schema.EscapeSegment(got.Sent), got.Sent, 200},
		{OpDelete, base + "/" + schema.EscapeSegment(got.Replied), got.Replied, 200},
		{OpDelete, base + "/" + schema.EscapeSegment(got.Replied), got.Replied, 404},
		{OpSend, base, "", 401},
	}
	for i, w := range want {
		r := recs[i]
		if r.Op != w.op || r.RawPath != w.path || r.ActivityID != w.activity || r.Status != w.status || r.ConversationID != conv {
			t.Fatalf("call %d: %s %s %q %d, want %s %s %q %d", i, r.Op, r.RawPath, r.ActivityID, r.Status, w.op, w.path, w.activity, w.status)
		}
		if w.status == 200 && r.AppID != s.AppID() {
			t.Fatalf("call %d without the app's token", i)
		}
	}
	if got.Sent != recs[0].ID || got.Replied != recs[1].ID || got.Updated != got.Sent || !got.Deleted {
		t.Fatalf("SDK read %+v, fake answered %q %q", got, recs[0].ID, recs[1].ID)
	}
	if recs[0].Activity.Text != "from the sdk" || recs[0].Activity.Attachments[0].ContentURL != "https://files.example/a.png" {
		t.Fatalf("activity %+v", recs[0].Activity)
	}
	if got.NotFound == nil || got.NotFound.Status != 404 || got.NotFound.Code != "ActivityNotFound" {
		t.Fatalf("SDK error for a deleted activity: %+v", got.NotFound)
	}
	if got.Anonymous == nil || got.Anonymous.Status != 401 {
		t.Fatalf("anonymous call: %+v", got.Anonymous)
	}
}
