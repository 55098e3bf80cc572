package connector

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
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

// TestPruneDedup checks that pruning forgets the keys older than its bound and only those (SQLite finds
// them by rowid, MySQL by their index on created_ms).
func TestPruneDedup(t *testing.T) { eachDB(t, testPruneDedup) }

func testPruneDedup(t *testing.T, dsn string) {
	clk := clock.NewFake(t0)
	s := newTestServer(t, nil, Config{DSN: dsn, Clock: clk, NoDispatch: true, Sites: []Site{{LicenceKey: "key-prune", Domain: "http://127.0.0.1:1"}}})
	p := newFakePortal(t, "key-prune", nil)
	p.setServer(s.PortalEndpoint())
	hook := p.connect("echo", "1", nil)
	post := func(msg string) int {
		t.Helper()
		code, body := postWebhook(t, hook, []byte(`{"user":{"id":"u"},"message":{"id":"`+msg+`"},"chat":{"id":"c"}}`))
		var r struct{ DATA struct{ QUEUED int } }
		if err := json.Unmarshal(body, &r); err != nil || code != 200 {
			t.Fatalf("webhook %s: %d %s", msg, code, body)
		}
		return r.DATA.QUEUED
	}
	post("a") // at t0
	post("b")
	clk.Advance(time.Hour)
	post("c") // at t0+1h
	ctx := context.Background()
	steps := []struct {
		before time.Time
		again  map[string]int // message → QUEUED when posted again after the prune
	}{
		{t0, map[string]int{"a": 0, "c": 0}},                       // nothing is older than t0
		{t0.Add(30 * time.Minute), map[string]int{"b": 1, "c": 0}}, // a and b are: b is queued anew (its key now at t0+1h)
		{t0.Add(2 * time.Hour), map[string]int{"c": 1}},            // everything is
	}
	for i, st := range steps {
		if err := s.store.pruneDedup(ctx, st.before.UnixMilli()); err != nil {
			t.Fatal(err)
		}
		for msg, want := range st.again {
			if got := post(msg); got != want {
				t.Errorf("step %d: %s queued %d, want %d", i, msg, got, want)
			}
		}
	}
}
