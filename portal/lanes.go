package portal

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the processing of a receivingMessage packet's items.
const (
	// DefaultAnswerWithin is how long a packet waits for its items' pipelines before it is answered. A
	// connector server sends a line one packet at a time, so this wait is added to every later message of
	// the line while one item is slow: it is short, and an item's pipeline without slow files ends well
	// within it.
	DefaultAnswerWithin = 250 * time.Millisecond
	// maxRunningChats bounds the chats whose items run at once, in all packets.
	maxRunningChats = 64
	// maxBackground bounds the items left running after their packet was answered; a packet that would pass
	// it waits for its own items instead, which holds back the connector server's next packet of the line.
	maxBackground = 256
)

// chatLanes runs the items of each chat one after another, in the order they were added, and the items of
// different chats at once (up to maxRunningChats chats). Each chat's items run in a lane of their own, kept
// while it has items to run. Safe for concurrent use.
type chatLanes struct {
	stop   context.Context // done once closed: the running items' contexts are cancelled
	cancel context.CancelFunc
	slots  chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	lanes  map[string][]func() // by chat: the items waiting, the running one taken out
	closed bool
}

func newChatLanes() *chatLanes {
	stop, cancel := context.WithCancel(context.Background())
	return &chatLanes{stop: stop, cancel: cancel, slots: make(chan struct{}, maxRunningChats), lanes: map[string][]func(){}}
}

// add runs fn(ctx) behind the items added before it for the chat key, with ctx's values and a cancellation
// of its own that close triggers. Once closed, fn runs at once in the caller's goroutine.
func (l *chatLanes) add(ctx context.Context, key string, fn func(ctx context.Context)) {
	job := func() {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(l.stop, cancel)()
		fn(ctx)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		fn(ctx)
		return
	}
	q, running := l.lanes[key]
	l.lanes[key] = append(q, job)
	if !running {
		l.wg.Add(1)
	}
	l.mu.Unlock()
	if !running {
		go l.drain(key)
	}
}

// drain runs the items of the chat key until none is left.
func (l *chatLanes) drain(key string) {
	defer l.wg.Done()
	l.slots <- struct{}{}
	defer func() { <-l.slots }()
	for {
		l.mu.Lock()
		q := l.lanes[key]
		if len(q) == 0 {
			delete(l.lanes, key)
			l.mu.Unlock()
			return
		}
		job := q[0]
		q[0] = nil
		l.lanes[key] = q[1:]
		l.mu.Unlock()
		job()
	}
}

// close cancels the running items, waits for every lane to finish and makes later adds run at once.
func (l *chatLanes) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
}

// packetWork is what a packet's handler waits for: its items in their lanes.
type packetWork struct {
	background *atomic.Int64 // the portal's count of items left running after their packet was answered

	mu       sync.Mutex
	left     int
	detached bool // the packet was answered: each item left counts in background
	done     chan struct{}
}

func newPacketWork(background *atomic.Int64, n int) *packetWork {
	w := &packetWork{background: background, left: n, done: make(chan struct{})}
	if n == 0 {
		close(w.done)
	}
	return w
}

// finish counts one item as done.
func (w *packetWork) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.detached {
		w.background.Add(-1)
	}
	if w.left--; w.left == 0 {
		close(w.done)
	}
}

// wait returns once every item is done, or once budget has passed and the items left fit in the background
// bound; those then finish after the answer.
func (w *packetWork) wait(budget <-chan time.Time) {
	select {
	case <-w.done:
		return
	case <-budget:
	}
	w.mu.Lock()
	if w.left > 0 {
		if w.background.Add(int64(w.left)) <= maxBackground {
			w.detached = true
			w.mu.Unlock()
			return
		}
		w.background.Add(-int64(w.left))
	}
	w.mu.Unlock()
	<-w.done
}
