package connector

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus metrics, on a registry of its own (no global state).
type metrics struct {
	reg          *prometheus.Registry
	enqueued     *prometheus.CounterVec
	duplicates   prometheus.Counter
	sends        *prometheus.CounterVec
	failures     *prometheus.CounterVec
	confirmed    prometheus.Counter
	deadLettered prometheus.Counter
	sendSeconds  prometheus.Histogram
	requests     *prometheus.CounterVec
	reqSeconds   *prometheus.HistogramVec
}

func newMetrics(st *Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		enqueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olctl_connector_enqueued_items_total", Help: "Items queued for portals, by command.",
		}, []string{"command"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "olctl_connector_duplicate_items_total", Help: "Webhook items dropped because their dedup key was already queued.",
		}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olctl_connector_sends_total", Help: "Packets sent to portals, by command and result (ok, error).",
		}, []string{"command", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olctl_connector_failures_total", Help: "Dispatch failures that blocked a line, by reason (send, confirm_timeout).",
		}, []string{"reason"}),
		confirmed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "olctl_connector_confirmed_items_total", Help: "Queued items deleted after the portal confirmed (or accepted) them.",
		}),
		deadLettered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "olctl_connector_dead_lettered_items_total", Help: "Items moved to the dead-letter table.",
		}),
		sendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "olctl_connector_send_seconds", Help: "Latency of one packet to a portal.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olctl_connector_requests_total", Help: "Requests answered, by endpoint (portal, webhook) and code (OK or the error code).",
		}, []string{"endpoint", "code"}),
		reqSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "olctl_connector_request_seconds", Help: "Latency of requests answered, by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"endpoint"}),
	}
	m.reg.MustRegister(m.enqueued, m.duplicates, m.sends, m.failures, m.confirmed, m.deadLettered, m.sendSeconds,
		m.requests, m.reqSeconds, &queueCollector{st: st}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// queueCollector reads the queue's state from the database at scrape time, so that every process sharing a
// database reports the same depths and nothing is counted per item in memory.
type queueCollector struct{ st *Store }

var (
	descDepth   = prometheus.NewDesc("olctl_connector_queue_depth", "Items queued per line.", []string{"site", "line"}, nil)
	descBlocked = prometheus.NewDesc("olctl_connector_blocked_lines", "Lines blocked by the back-off schedule.", nil, nil)
	descDead    = prometheus.NewDesc("olctl_connector_dead_letters", "Items in the dead-letter table.", nil, nil)
	descUp      = prometheus.NewDesc("olctl_connector_queue_scrape_ok", "1 when the queue could be read for this scrape.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDepth
	ch <- descBlocked
	ch <- descDead
	ch <- descUp
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.st.QueueStats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	for _, l := range st.Lines {
		ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(l.Pending), l.Site, l.Line)
	}
	ch <- prometheus.MustNewConstMetric(descBlocked, prometheus.GaugeValue, float64(st.Blocked))
	ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, float64(st.Dead))
}
