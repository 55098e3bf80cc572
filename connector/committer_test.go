package connector

import (
	"context"
	"slices"
	"testing"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/sqldb"
)

// TestRoundStoresEachLineTogether: a round's requests for one line are stored together, and each request
// learns its own items kept, as if the requests had been stored one after the other in the round's order:
// a key seen before, or earlier in the round, drops its item; items without a key are kept.
func TestRoundStoresEachLineTogether(t *testing.T) {
	ctx := context.Background()
	// item is message id msg with dedup key key ("" for none).
	item := func(msg, key string) prepared {
		return prepared{command: "receivingMessage", connector: "echo", chatID: "c", msgID: msg, blob: []byte(msg), dkey: key}
	}
	type req struct {
		line  string
		items []prepared
		kept  []string // the message ids kept
	}
	rounds := [][]req{
		{
			{line: "1", items: []prepared{item("a", "ka"), item("b", "kb")}, kept: []string{"a", "b"}},
			{line: "2", items: []prepared{item("a", "ka")}, kept: []string{"a"}}, // keys are per line
			{line: "1", items: []prepared{item("a2", "ka"), item("c", "kc")}, kept: []string{"c"}},
			{line: "1", items: []prepared{item("n", ""), item("c2", "kc"), item("d", "kd"), item("d2", "kd")}, kept: []string{"n", "d"}},
			{line: "1", items: []prepared{item("e", "ke")}, kept: []string{"e"}},
		},
		{ // a later round: the keys stored before are seen
			{line: "1", items: []prepared{item("b3", "kb"), item("f", "kf")}, kept: []string{"f"}},
			{line: "1", items: []prepared{item("e3", "ke")}, kept: nil},
			{line: "2", items: []prepared{item("b", "kb")}, kept: []string{"b"}},
		},
	}
	// A round larger than a statement's rows: three lines of 150 items, every other one's key seen.
	var big []req
	for _, line := range []string{"3", "4", "5"} {
		var first, second []prepared
		var kept []string
		for i := range 150 {
			id := line + "-" + itoa(i)
			first = append(first, item(id, "k"+id))
			key := "k" + id // the even ones seen (in the first request), the odd ones new
			if i%2 == 1 {
				key += "b"
			}
			second = append(second, item(id+"b", key))
			kept = append(kept, id)
		}
		var keptSecond []string
		for i := 1; i < 150; i += 2 {
			keptSecond = append(keptSecond, line+"-"+itoa(i)+"b")
		}
		big = append(big, req{line: line, items: first, kept: kept}, req{line: line, items: second, kept: keptSecond})
	}
	rounds = append(rounds, big)
	want := map[string][]string{"1": {"a", "b", "c", "n", "d", "e", "f"}, "2": {"a", "b"}}
	for _, r := range big {
		want[r.line] = append(want[r.line], r.kept...)
	}
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		st, err := newStore(ctx, db, clock.NewFake(t0))
		if err != nil {
			t.Fatal(err)
		}
		c := newCommitter(st)
		for i, round := range rounds {
			var reqs []*enqueueReq
			for _, r := range round {
				reqs = append(reqs, &enqueueReq{siteID: 1, line: r.line, ps: r.items})
			}
			if err := c.commit(ctx, reqs); err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			for j, r := range reqs {
				var got []string
				for _, p := range r.kept {
					got = append(got, p.msgID)
				}
				if !slices.Equal(got, round[j].kept) {
					t.Errorf("round %d, request %d: kept %q, want %q", i, j, got, round[j].kept)
				}
			}
		}
		for line, ids := range want {
			rows, err := db.QueryContext(ctx, `SELECT q.msg_id FROM conn_queue q JOIN conn_lane l ON l.id = q.lane_id
				WHERE l.site_id = 1 AND l.line = ? ORDER BY q.id`, line)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				got = append(got, id)
			}
			if err := rows.Close(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, ids) {
				t.Errorf("line %s queued %q, want %q", line, got, ids)
			}
		}
	})
}
