// Package metrics exposes kcred's Prometheus metrics at /metrics: the
// expiry of every certificate, open renewals, notifications and deliveries,
// and sweeps.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kcred/kcred"
)

// Metrics holds kcred's metrics. It implements lifecycle.Observer.
type Metrics struct {
	reg           *prometheus.Registry
	notifications *prometheus.CounterVec
	deliveries    *prometheus.CounterVec
	sweepDuration prometheus.Histogram
	renewals      prometheus.Histogram
}

// New registers the metrics; the certificate gauges are read from store at
// each scrape.
func New(store kcred.Store, log *slog.Logger) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kcred_notifications_total", Help: "Notifications made, by kind.",
	}, []string{"kind"})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kcred_deliveries_total", Help: "Delivery attempts, by notification kind, channel and resulting state.",
	}, []string{"kind", "channel", "result"})
	m.sweepDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "kcred_sweep_duration_seconds", Help: "Duration of lifecycle sweeps.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	})
	m.renewals = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "kcred_sweep_renewals", Help: "Certificates renewed per sweep.",
		Buckets: []float64{0, 1, 10, 100, 1000, 10000, 100000},
	})
	m.reg.MustRegister(m.notifications, m.deliveries, m.sweepDuration, m.renewals,
		&certificates{store: store, log: log},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Swept records a sweep.
func (m *Metrics) Swept(renewed int, d time.Duration) {
	m.sweepDuration.Observe(d.Seconds())
	m.renewals.Observe(float64(renewed))
}

// Notified records a notification.
func (m *Metrics) Notified(kind string) { m.notifications.WithLabelValues(kind).Inc() }

// Delivered records a delivery attempt and the state it left.
func (m *Metrics) Delivered(kind, channel, result string) {
	m.deliveries.WithLabelValues(kind, channel, result).Inc()
}

var (
	notAfterDesc = prometheus.NewDesc("kcred_certificate_not_after_seconds",
		"Expiry of each service user's certificate as a Unix time; generation is current, or expiring for the old certificate of an unacknowledged renewal.",
		[]string{"project", "service", "user", "generation"}, nil)
	openDesc = prometheus.NewDesc("kcred_open_renewals",
		"Renewals whose old certificate has not expired yet, by whether they were acknowledged.",
		[]string{"project", "acknowledged"}, nil)
)

// certificates reads the certificate gauges from the store at each scrape,
// so every replica reports the same truth.
type certificates struct {
	store kcred.Store
	log   *slog.Logger
}

func (c *certificates) Describe(ch chan<- *prometheus.Desc) { ch <- notAfterDesc; ch <- openDesc }

func (c *certificates) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	projects, err := c.store.ListProjects(ctx)
	if err != nil {
		c.log.Error("metrics: list projects", "err", err)
		return
	}
	for _, p := range projects {
		open := map[bool]int{false: 0, true: 0}
		svcs, err := c.store.ListServices(ctx, p.Name)
		if err != nil {
			c.log.Error("metrics: list services", "err", err)
			return
		}
		for _, s := range svcs {
			creds, err := c.store.ListCredentials(ctx, s.ID)
			if err != nil {
				c.log.Error("metrics: list credentials", "err", err)
				return
			}
			for _, cr := range creds {
				ch <- prometheus.MustNewConstMetric(notAfterDesc, prometheus.GaugeValue,
					float64(cr.Current.NotAfter.Unix()), p.Name, s.Name, cr.User.Username, "current")
				if cr.Renewal != nil {
					open[cr.Renewal.Acknowledged()]++
					if cr.Pending() {
						ch <- prometheus.MustNewConstMetric(notAfterDesc, prometheus.GaugeValue,
							float64(cr.Renewal.OldNotAfter.Unix()), p.Name, s.Name, cr.User.Username, "expiring")
					}
				}
			}
		}
		for acked, n := range open {
			label := "false"
			if acked {
				label = "true"
			}
			ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(n), p.Name, label)
		}
	}
}
