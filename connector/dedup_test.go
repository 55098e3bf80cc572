package connector

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestDedup checks that an item whose DedupKey was seen on its line is dropped, within one webhook and
// across webhooks, and that the others are queued in order (SQLite and MySQL find the new keys differently).
func TestDedup(t *testing.T) { eachDB(t, testDedup) }

func testDedup(t *testing.T, dsn string) {
	s := newTestServer(t, nil, Config{DSN: dsn, NoDispatch: true, Sites: []Site{{LicenceKey: "key-dedup", Domain: "http://127.0.0.1:1"}}})
	p := newFakePortal(t, "key-dedup", nil)
	p.setServer(s.PortalEndpoint())
	hooks := []string{p.connect("echo", "1", nil), p.connect("echo", "2", nil)}
	// item is an echo item with message id msg and DedupKey key.
	item := func(msg, key string) string {
		return `{"user":{"id":"u"},"message":{"id":"` + msg + `","text":"t"},"chat":{"id":"c"},"dedup":"` + key + `"}`
	}
	steps := []struct {
		hook   int
		items  []string // message id = dedup key, or "id/key"
		queued int
	}{
		{0, []string{"a", "b", "a"}, 2},             // a key twice in one webhook: the first is kept
		{0, []string{"b", "c", "d/c", "e"}, 2},      // b seen before; c new, then again under another id
		{0, []string{"a", "b", "c"}, 0},             // a retried webhook
		{1, []string{"a", "b"}, 2},                  // keys are per line
		{0, []string{"f", "f", "f", "g", "g/f"}, 2}, // runs of one key
		{0, []string{"g"}, 0},                       // one item (one key: another statement), seen
		{0, []string{"h"}, 1},                       // one item, new
	}
	for i, st := range steps {
		var items []string
		for _, it := range st.items {
			msg, key, ok := strings.Cut(it, "/")
			if !ok {
				key = msg
			}
			items = append(items, item(msg, key))
		}
		code, body := postWebhook(t, hooks[st.hook], []byte(`{"items":[`+strings.Join(items, ",")+`]}`))
		var r struct{ DATA struct{ QUEUED int } }
		if err := json.Unmarshal(body, &r); err != nil || code != 200 || r.DATA.QUEUED != st.queued {
			t.Fatalf("step %d: %d %s, want QUEUED %d", i, code, body, st.queued)
		}
	}
	for line, want := range map[string][]string{"1": {"a", "b", "c", "e", "f", "g", "h"}, "2": {"a", "b"}} {
		list, err := s.QueueList(context.Background(), QueueFilter{Line: line})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range list {
			got = append(got, it.MessageID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("line %s queued %v, want %v", line, got, want)
		}
	}
}
