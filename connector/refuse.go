package connector

import (
	"errors"
	"net/http"
	"slices"
	"sync"

	"github.com/olctl/olctl/wire"
)

// A portal that refuses every packet holding one bad item (an answer that is an error each time) would
// block the item's line and, when the schedule ends, take the line's other items to the dead letters with
// it. So a refused packet of several items is split (docs/protocol.md §11): its first half goes out at
// once, and each answer halves the part of the line's head that holds the refused item, a binary search
// of about log2(n) more packets. The items of an accepted part are settled as usual, in order.
//
// What follows a refusal of the item alone depends on what the answer says. An answer that names the item
// as bad (itemRefused: a 4xx status, BAD_PACKET, a per-item code) is final: having accepted other packets
// of the line during the search, the portal gets nothing more of it, and the item is moved to the
// dead-letter table alone; the line goes on. A transient answer (a 5xx status, INTERNAL_ERROR, an answer
// that could not be read) may be a portal failing for a moment, as olctl's own portal does when its
// database blips: the lane is held (blocked, its failures not counted) and the item sent alone again after
// each wait of Policy.RetryAlone, the items behind it waiting. Refused each time, it is treated as named.
//
// When the refusal is final but the portal took nothing else of the line meanwhile (the item was the
// head), and when the retries are used up, the items claimed behind the item go once without it: when the
// portal takes them, the item is dead-lettered as they are settled, so that the items behind it go on only
// once it is dead-lettered; when it refuses them too, the portal may be failing as a whole, and the line is
// blocked on the schedule as for any failure. An item retried with nothing behind it is dead-lettered on
// the evidence alone.

// refusal reports whether err is a portal's answer refusing a packet for what may be one of its items. A
// transport error (no answer, a timeout, a refused address) is not one, nor a status that says the portal
// is busy or away (408, 429, 502, 503, 504), nor a code that names the line or the packet's credentials
// rather than its content: those refuse any packet of the line alike, and splitting would only send more.
func refusal(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		switch se.status {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable,
			http.StatusGatewayTimeout:
			return false
		}
		return true
	}
	var re *wire.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	for _, c := range lineCodes {
		if errors.Is(err, c) {
			return false
		}
	}
	return true
}

// lineCodes are the answers' codes that refuse a packet for its line, site or credentials (docs/protocol.md
// §5, §7), whatever its items.
var lineCodes = []wire.Code{wire.CodeNotActiveLine, wire.CodeHashEmpty, wire.CodeLicence, wire.CodeReplay,
	wire.CodeModuleNotInstalled, wire.CodeNoConnector, wire.CodeUnknownConnector, wire.CodeNetwork}

// itemRefused reports whether a refusal says that the packet's items themselves are bad, so that an item
// refused alone is not sent again: a 4xx status (408, 413 and 429 are not refusals), or OK:false whose
// codes all name an item's content. Any other refusal (a 5xx status, INTERNAL_ERROR, an answer that could
// not be read, a code olctl does not know) may pass.
func itemRefused(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.status >= 400 && se.status < 500
	}
	var re *wire.ResponseError
	if !errors.As(err, &re) || len(re.Errors) == 0 {
		return false
	}
	for _, e := range re.Errors {
		if !slices.Contains(itemCodes, e.Code) {
			return false
		}
	}
	return true
}

// itemCodes are the answers' codes that refuse a packet for its items (docs/protocol.md §5, §7.1).
var itemCodes = []wire.Code{wire.CodeBadPacket, wire.CodeNoUserIM, wire.CodeNoAddUser, wire.CodeNotAllRequiredData,
	wire.CodeUnsupportedType, wire.CodeRequestEntityTooLarge}

// search is a refusal being narrowed on one lane: the refused item is among the first window items of the
// lane's queue (when the refusal was the item's and not a passing one), and accepted says that the portal
// took another packet of the line meanwhile, since the line last failed. It is a hint kept in memory: an item is dead-lettered only on
// a refusal of it alone, so a search lost on a restart or a stale window costs packets, never an item.
type search struct {
	window   int
	accepted bool
	item     int64 // the head item refused alone by transient answers
	tries    int   // how many times it was held for a retry
}

// searches are the lanes' searches; the zero value is empty. A lane is leased to one worker at a time, the
// only one that reads or changes its search.
type searches struct {
	mu sync.Mutex
	m  map[int64]*search
}

// size is how many head items the lane's next packet may hold: half the window (at least one) during a
// search, else 0 (no limit).
func (ss *searches) size(lane int64) int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if sr := ss.m[lane]; sr != nil && sr.window > 0 {
		return max(1, sr.window/2)
	}
	return 0
}

// refused records a refused packet of n head items: the item is among them. It reports whether a search
// began.
func (ss *searches) refused(lane int64, n int) (began bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[int64]*search{}
	}
	sr := ss.m[lane]
	if sr == nil {
		sr = &search{}
		ss.m[lane] = sr
	}
	began = sr.window == 0
	sr.window = n
	return began
}

// accepted records an accepted packet of n head items; the search ends when its window is used up (the
// refusal was a passing one).
func (ss *searches) accepted(lane int64, n int) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sr := ss.m[lane]
	if sr == nil {
		return
	}
	if sr.window -= n; sr.window <= 0 {
		delete(ss.m, lane)
		return
	}
	sr.accepted = true
}

// retry records a transient refusal of item alone and reports which wait of waits to hold the lane for
// before it goes alone again, false when it was held for each already.
func (ss *searches) retry(lane, item int64, waits int) (try int, ok bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sr := ss.m[lane]
	if sr == nil {
		return 0, false
	}
	if sr.item != item {
		sr.item, sr.tries = item, 0
	}
	if sr.tries >= waits {
		return 0, false
	}
	sr.tries++
	return sr.tries - 1, true
}

// evidence reports whether the portal accepted another packet of the line during its search.
func (ss *searches) evidence(lane int64) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sr := ss.m[lane]
	return sr != nil && sr.accepted
}

// failed records that the line failed (it is blocked): what the portal took before is no evidence for
// what it refuses after.
func (ss *searches) failed(lane int64) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if sr := ss.m[lane]; sr != nil {
		sr.accepted = false
	}
}

// done ends the lane's search.
func (ss *searches) done(lane int64) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, lane)
}
