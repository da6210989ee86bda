package lifecycle_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
	"github.com/kcred/kcred/internal/postgres/postgrestest"
)

// benchUsers is how many due users BenchmarkBulkRenewal renews per run;
// KCRED_BENCH_RENEWALS overrides it (docs/PERFORMANCE.md uses 20000).
func benchUsers() int {
	if n, err := strconv.Atoi(os.Getenv("KCRED_BENCH_RENEWALS")); err == nil && n > 0 {
		return n
	}
	return 2000
}

// BenchmarkBulkRenewal renews every user of a store whose certificates are
// all due, in one Sweep, and reports renewals per second, the peak RSS of
// the sweep, and, measured in the same process half right before and half
// right after the sweep, the rate of the bare crypto of as many renewals (a P-256 key and x509.CreateCertificate
// on every core) and the ratio of the two; the same for CPU time
// (cpu-µs/renewal, cpu-ratio). KCRED_BENCH_SWEEP_CPUPROFILE=file profiles
// the sweep alone; KCRED_BENCH_SWEEP_TRACE=file writes its runtime trace.
func BenchmarkBulkRenewal(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchBulkRenewal(b, kcred.KeyTypeECP256, benchUsers(), func(t testing.TB) kcred.Store { return newSQLite(t) })
	})
	// RSA key generation costs a thousand times a P-256 one: fewer users.
	b.Run("sqlite-rsa-2048", func(b *testing.B) {
		benchBulkRenewal(b, kcred.KeyTypeRSA2048, max(benchUsers()/20, 20), func(t testing.TB) kcred.Store { return newSQLite(t) })
	})
	b.Run("postgres", func(b *testing.B) {
		benchBulkRenewal(b, kcred.KeyTypeECP256, benchUsers(), func(t testing.TB) kcred.Store { return postgrestest.Open(t) })
	})
}

// BenchmarkBulkReminders times a sweep that sends the first reminder of
// as many open renewals as BenchmarkBulkRenewal renews (a bulk renewal's
// users are reminded together), after a sweep that renewed them: for each
// renewal its re-read, notice and update, the events of a batch together,
// then the digest. No baseline: no key is made.
func BenchmarkBulkReminders(b *testing.B) {
	for _, st := range []struct {
		name string
		open func(t testing.TB) kcred.Store
	}{
		{"sqlite", func(t testing.TB) kcred.Store { return newSQLite(t) }},
		{"postgres", func(t testing.TB) kcred.Store { return postgrestest.Open(t) }},
	} {
		b.Run(st.name, func(b *testing.B) {
			n := benchUsers()
			ctx := context.Background()
			var total, cpu time.Duration
			for range b.N {
				b.StopTimer()
				w := prepareDueWith(b, st.open, kcred.KeyTypeECP256, n, []time.Duration{20 * day, 10 * day})
				if res, err := w.m.Sweep(ctx); err != nil || res.Renewed != n {
					b.Fatalf("renewing sweep: %+v, %v", res, err)
				}
				// Day 81: the old certificates expire on day 100, so the
				// 20-day reminder is due, and only it.
				w.clock.Set(w.clock.Now().Add(10 * day))
				b.StartTimer()
				start, startCPU := time.Now(), processCPU()
				res, err := w.m.Sweep(ctx)
				total, cpu = total+time.Since(start), cpu+processCPU()-startCPU
				b.StopTimer()
				if err != nil || res.Reminded != n || res.Notifications != 1 {
					b.Fatalf("reminding sweep: %+v, %v; want %d reminders in one digest", res, err, n)
				}
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "reminders/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(n*b.N), "cpu-µs/reminder")
		})
	}
}

func benchBulkRenewal(b *testing.B, kt kcred.KeyType, n int, open func(t testing.TB) kcred.Store) {
	var total, raw, cpu, rawCPU time.Duration
	var peak int64
	for range b.N {
		b.StopTimer()
		w := prepareDue(b, open, kt, n)
		// The baseline straddles the sweep, half before and half after,
		// so that the machine's speed drifting (it does, on a shared VM)
		// moves both sides of the ratio alike.
		startCPU := processCPU()
		raw += rawKeygenSign(kt, n/2)
		rawCPU += processCPU() - startCPU
		// Hand back what making the users and the baseline left behind,
		// so that the peak is the sweep's own.
		debug.FreeOSMemory()
		resetPeakRSS()
		stopProfile := startSweepProfile(b)
		b.StartTimer()
		start, startCPU := time.Now(), processCPU()
		res, err := w.m.Sweep(context.Background())
		total, cpu = total+time.Since(start), cpu+processCPU()-startCPU
		b.StopTimer()
		stopProfile()
		if err != nil {
			b.Fatal(err)
		}
		if res.Renewed != n {
			b.Fatalf("renewed %d of %d", res.Renewed, n)
		}
		peak = max(peak, peakRSS())
		startCPU = processCPU()
		raw += rawKeygenSign(kt, n-n/2)
		rawCPU += processCPU() - startCPU
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "renewals/s")
	b.ReportMetric(float64(n*b.N)/raw.Seconds(), "raw/s")
	b.ReportMetric(raw.Seconds()/total.Seconds(), "ratio")
	if peak > 0 {
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MB")
	}
	// The CPU time of a renewal, of the process only (a PostgreSQL
	// server's is not in it), and the raw CPU time over it: what the ratio
	// would be with every core busy, which other load on the machine
	// disturbs less than the wall-clock rates.
	b.ReportMetric(float64(cpu.Microseconds())/float64(n*b.N), "cpu-µs/renewal")
	b.ReportMetric(rawCPU.Seconds()/cpu.Seconds(), "cpu-ratio")
}

// processCPU returns the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startSweepProfile starts a CPU profile into the file
// KCRED_BENCH_SWEEP_CPUPROFILE names and a runtime trace into
// KCRED_BENCH_SWEEP_TRACE, each when set, and returns what stops them:
// go test -cpuprofile or -trace would mostly record making the users.
func startSweepProfile(b *testing.B) (stop func()) {
	var stops []func()
	for _, o := range []struct {
		env         string
		start       func(io.Writer) error
		stopWriting func()
	}{
		{"KCRED_BENCH_SWEEP_CPUPROFILE", pprof.StartCPUProfile, pprof.StopCPUProfile},
		{"KCRED_BENCH_SWEEP_TRACE", trace.Start, trace.Stop},
	} {
		path := os.Getenv(o.env)
		if path == "" {
			continue
		}
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := o.start(f); err != nil {
			f.Close()
			b.Fatal(err)
		}
		stops = append(stops, func() {
			o.stopWriting()
			f.Close()
		})
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// prepareDue makes n users in one project and moves the clock to when all
// of them are due.
func prepareDue(b *testing.B, open func(t testing.TB) kcred.Store, kt kcred.KeyType, n int) *world {
	return prepareDueWith(b, open, kt, n, []time.Duration{})
}

// prepareDueWith is prepareDue with a schedule of reminders. The
// certificates are valid for 100 days and due from day 70; the clock
// stops on day 71.
func prepareDueWith(b *testing.B, open func(t testing.TB) kcred.Store, kt kcred.KeyType, n int, reminders []time.Duration) *world {
	b.Helper()
	store := open(b)
	w := newWorld(b, store, kcred.CertPolicy{KeyType: kt, Validity: 100 * day, RenewBefore: 30 * day, Reminders: reminders})
	ctx := context.Background()
	if _, err := w.m.CreateProject(ctx, w.admin, "p1", nil, kcred.CertPolicy{}); err != nil {
		b.Fatal(err)
	}
	if _, err := w.m.CreateService(ctx, w.admin, "p1", lifecycle.ServiceSpec{Name: "k1"}); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n-1; i += 8 { // avnadmin is the nth
				if _, err := w.m.CreateUser(ctx, w.admin, "p1", "k1", fmt.Sprintf("u%06d", i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	w.clock.Set(w.clock.Now().Add(71 * day))
	return w
}

// rawKeygenSign times n keys of type kt and their certificates, made on
// every core with nothing around them: the baseline of a renewal's cost.
func rawKeygenSign(kt kcred.KeyType, n int) time.Duration {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(der)
	start := time.Now()
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += workers {
				var pub any
				if kt == kcred.KeyTypeRSA2048 {
					key, _ := rsa.GenerateKey(rand.Reader, 2048)
					pub = &key.PublicKey
				} else {
					key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
					pub = &key.PublicKey
				}
				leaf := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: "u"},
					KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
					NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
				x509.CreateCertificate(rand.Reader, leaf, ca, pub, caKey)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// resetPeakRSS starts a new peak for peakRSS (Linux: clear_refs 5).
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns the process's peak resident set (VmHWM) in bytes, or 0.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
