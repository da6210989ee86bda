package console_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Browser tests drive Debian's Chromium, headless, against the real API and
// console on loopback. Without Chromium they skip, unless CI is set.
// KCRED_CONSOLE_SCREENSHOTS=<dir> saves a screenshot of each page they
// check, for people to look at; a failing test always saves one under
// testdata/failures.

// chromiumPath returns the browser to drive, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("KCRED_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI is set: the browser tests must run (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (/usr/bin/chromium); the browser tests need it (apt-get install chromium)")
	return ""
}

// The browser is started once for the package, with a temporary profile;
// each test gets its own tab in its own browser context (like an incognito
// window: no cookies shared between tests).
var shared struct {
	once    sync.Once
	ctx     context.Context
	cancel  func()
	profile string
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	if shared.profile != "" {
		os.RemoveAll(shared.profile)
	}
	os.Exit(code)
}

func sharedBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	shared.once.Do(func() {
		shared.profile, shared.err = os.MkdirTemp("", "kcred-console-chromium-")
		if shared.err != nil {
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("no-first-run", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.UserDataDir(shared.profile),
			chromedp.WindowSize(1280, 800),
		)
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		shared.ctx, shared.cancel = ctx, func() { cancel(); cancelAlloc() }
		// The first run starts the browser; it gets no timeout, so that
		// the browser lives as long as the tests (chromedp's API.md, 21).
		shared.err = chromedp.Do(ctx)
	})
	if shared.err != nil {
		t.Fatalf("start chromium: %v", shared.err)
	}
	return shared.ctx
}

// tab is a browser tab on the test's server.
type tab struct {
	t   *testing.T
	e   *env
	ctx context.Context
}

// newTab opens a tab of width x height CSS pixels in a new browser
// context. A failing test leaves a screenshot in testdata/failures.
func newTab(t *testing.T, e *env, width, height int) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(sharedBrowser(t), chromedp.WithNewBrowserContext())
	tb := &tab{t: t, e: e, ctx: ctx}
	var (
		mu       sync.Mutex
		problems []string
		watching = make(chan struct{})
	)
	t.Cleanup(func() {
		mu.Lock()
		for _, p := range problems {
			t.Errorf("browser console: %s", p)
		}
		mu.Unlock()
		if t.Failed() {
			tb.saveFailure()
		}
		cancel()
		<-watching
	})
	if err := chromedp.Do(ctx); err != nil {
		close(watching)
		t.Fatalf("open a tab: %v", err)
	}
	// Script errors and Content-Security-Policy violations show in the
	// console; a page of the console must have none. Failed requests are
	// the tests' own (403 on purpose) and are left to them.
	msgs := chromedp.Console(ctx)
	go func() {
		defer close(watching)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if (m.Type == chromedp.ConsoleError || m.IsException()) && !strings.Contains(m.Text, "Failed to load resource") {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	if err := chromedp.Do(tb.timeout(), chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("set viewport: %v", err)
	}
	return tb
}

func (b *tab) timeout() context.Context {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	b.t.Cleanup(cancel)
	return ctx
}

// do runs steps, failing the test on an error.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.timeout(), steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action that returns a value.
func run[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.timeout(), a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open goes to a page of the console.
func (b *tab) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.e.URL+path))
}

// clickAndLoad clicks sel and waits for the page it leads to.
func (b *tab) clickAndLoad(sel string) {
	b.t.Helper()
	run(b, "click "+sel+" and wait for the next page",
		chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)))
}

// keysAndLoad sends keys to the focused element and waits for the page
// they lead to.
func (b *tab) keysAndLoad(keys string) {
	b.t.Helper()
	run(b, "press keys and wait for the next page", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.KeyEvent(keys)))
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(run(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeReady)))
}

func (b *tab) count(sel string) int {
	b.t.Helper()
	return run(b, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

func (b *tab) location() string {
	b.t.Helper()
	return strings.TrimPrefix(run(b, "location", chromedp.Location()), b.e.URL)
}

// shot saves a screenshot as <name>.png when KCRED_CONSOLE_SCREENSHOTS
// names a directory.
func (b *tab) shot(name string) {
	b.t.Helper()
	dir := os.Getenv("KCRED_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := run(b, "screenshot", chromedp.FullScreenshot(100))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// saveFailure keeps a screenshot of the page a failed test ended on.
func (b *tab) saveFailure() {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("no failure screenshot: %v", err)
		return
	}
	dir := filepath.Join("testdata", "failures")
	name := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name())+".png")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		if err := os.WriteFile(name, png, 0o644); err == nil {
			b.t.Logf("screenshot of the failure: %s", name)
			return
		}
	}
	tmp := filepath.Join(os.TempDir(), "kcred-console-"+strings.ReplaceAll(b.t.Name(), "/", "_")+".png")
	if err := os.WriteFile(tmp, png, 0o644); err == nil {
		b.t.Logf("screenshot of the failure: %s", tmp)
	}
}

// login logs in through the login form and lands on the projects page.
func (b *tab) login(email, pw string) {
	b.t.Helper()
	b.open("/login")
	b.do("fill in the login form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), pw),
	)
	b.clickAndLoad("#login-submit")
	if loc := b.location(); loc != "/projects" {
		b.t.Fatalf("after login at %s, want /projects; page says %q", loc, b.text("main"))
	}
}

// sessionCookie returns the value of the session cookie, which page
// scripts cannot read (HttpOnly) but the browser's protocol can.
func (b *tab) sessionCookie() *network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.timeout(), network.GetCookies, network.GetCookiesParams{URLs: []string{b.e.URL + "/"}})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "kcred_session" {
			return c
		}
	}
	b.t.Fatalf("no session cookie among %d cookies", len(res.Cookies))
	return nil
}

// download clicks sel, which starts a download, and returns the file.
func (b *tab) download(sel string) []byte {
	b.t.Helper()
	dir := b.t.TempDir()
	_, err := chromedp.CallBrowser(b.timeout(), browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true),
		BrowserContextID: chromedp.FromContext(b.ctx).BrowserContextID,
	})
	if err != nil {
		b.t.Fatalf("allow downloads: %v", err)
	}
	ctx := b.timeout()
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("wait for the download: %v", err)
		}
		// Events come from the whole browser; this tab's files land in
		// its own directory.
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			body, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if errors.Is(err, fs.ErrNotExist) {
				continue // another test's download
			} else if err != nil {
				b.t.Fatal(err)
			}
			return body
		case browser.DownloadProgressStateCanceled:
			b.t.Fatalf("a download was canceled while waiting for %s", sel)
		}
	}
	b.t.Fatal("no download")
	return nil
}

func unzip(t *testing.T, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = string(body)
	}
	return out
}

const usersPath = "/projects/demo/services/kafka1/users"

// TestBrowserLoginAndNavigate logs in and walks from the projects to a
// project, its service and the service's users.
func TestBrowserLoginAndNavigate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newTab(t, e, 1280, 800)
	b.login(e.Admin.Email, password(e.Admin))
	b.shot("projects")
	if got := b.text("#projects tbody"); !strings.Contains(got, "demo") {
		t.Fatalf("projects table: %q", got)
	}
	b.clickAndLoad(`#projects a[href="/projects/demo"]`)
	if got := b.text("h1"); got != "demo" {
		t.Fatalf("project page heading %q", got)
	}
	if n := b.count("svg.chart .chart-current"); n == 0 {
		t.Error("the expiry chart has no bars")
	}
	if got := b.text("#ca-title"); got != "Certificate authority" {
		t.Errorf("CA card %q", got)
	}
	b.shot("project")
	b.clickAndLoad(`#services-table a[href="/projects/demo/services/kafka1"]`)
	if got := b.text("#service-uri"); got != "kafka.example.com:9093" {
		t.Fatalf("service URI %q", got)
	}
	if b.count("#expiring-banner") != 0 {
		t.Error("expiring banner without a pending renewal")
	}
	b.clickAndLoad("#users-link")
	if loc := b.location(); loc != usersPath {
		t.Fatalf("at %s, want %s", loc, usersPath)
	}
	for _, u := range []string{"app1", "app2", "avnadmin"} {
		if got := b.text("#user-" + u + " th"); !strings.HasPrefix(got, u) {
			t.Errorf("row of %s: %q", u, got)
		}
		if got := b.text("#user-" + u + " .badge"); got != "Valid" {
			t.Errorf("badge of %s: %q, want Valid", u, got)
		}
	}
	if b.count("#expiring-notice") != 0 {
		t.Error("red line without a pending renewal")
	}
	overflow := run(b, "page width", chromedp.Evaluate[bool]("document.documentElement.scrollWidth > window.innerWidth"))
	if overflow {
		t.Error("the users page scrolls sideways at 1280 px")
	}
	b.shot("users")
}

// TestBrowserShowSecrets shows the access cert, the access key and the
// password of a user as a developer; each secret read is an event.
func TestBrowserShowSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	want := e.creds("app1")
	b := newTab(t, e, 1280, 800)
	b.login(e.Developer.Email, password(e.Developer))
	b.open(usersPath)

	b.do("show the access cert",
		chromedp.Click(chromedp.CSS(`#user-app1 [data-show-cert]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("pem-dialog")),
	)
	if got := b.text("#pem-title"); got != "Access certificate of app1" {
		t.Errorf("dialog title %q", got)
	}
	cert := run(b, "PEM", chromedp.TextContent(chromedp.ID("pem-text")))
	if !strings.Contains(cert, "-----BEGIN CERTIFICATE-----") || strings.TrimSpace(cert) != strings.TrimSpace(want.Current.CertPEM) {
		t.Fatalf("dialog shows %q, want the access cert of app1", cert)
	}
	b.shot("show-access-cert")
	b.do("close the dialog", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.ID("pem-dialog")))

	b.do("show the access key",
		chromedp.Click(chromedp.CSS(`#user-app1 [data-show-key]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("pem-dialog")),
		chromedp.Poll[chromedp.Void](`document.getElementById("pem-text").textContent.includes("PRIVATE KEY")`),
	)
	key := run(b, "key PEM", chromedp.TextContent(chromedp.ID("pem-text")))
	if key != want.KeyPEM {
		t.Fatalf("dialog shows %q, want the access key of app1", key)
	}
	b.do("close the dialog", chromedp.Click(chromedp.CSS("#pem-dialog .btn-primary")), chromedp.WaitNotVisible(chromedp.ID("pem-dialog")))

	b.do("reveal the password",
		chromedp.Click(chromedp.CSS(`#user-app1 [data-reveal-password]`), chromedp.NodeVisible),
		chromedp.Poll[chromedp.Void](`document.querySelector('#user-app1 [data-reveal-password]').getAttribute("aria-pressed") === "true"`),
	)
	if got := b.text(`#user-app1 [data-secret]`); got != want.Password {
		t.Fatalf("revealed password %q, want %q", got, want.Password)
	}
	b.shot("password-revealed")

	evs, err := e.M.ListEvents(context.Background(), e.super(), project, 100)
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	for _, ev := range evs {
		if ev.Action == "service_user_credentials_read" && ev.Actor == e.Developer.Email && ev.Target == "app1" {
			reads++
		}
	}
	if reads != 2 {
		t.Errorf("%d credential reads by the developer recorded, want 2 (key and password)", reads)
	}
}

// TestBrowserDownloads downloads a user's credentials as one zip and the
// Java stores, through the browser's own download.
func TestBrowserDownloads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	want := e.creds("app2")
	b := newTab(t, e, 1280, 800)
	b.login(e.Developer.Email, password(e.Developer))
	b.open(usersPath)

	files := unzip(t, b.download(`#user-app2 [data-action="download-zip"]`))
	if len(files) != 3 {
		t.Errorf("zip holds %d files, want 3: %v", len(files), keys(files))
	}
	ca, err := e.M.CACertificates(context.Background(), e.super(), project)
	if err != nil {
		t.Fatal(err)
	}
	if files["ca.pem"] != ca || files["service.cert"] != want.Current.CertPEM || files["service.key"] != want.KeyPEM {
		t.Errorf("zip files differ from the user's credentials: %v", keys(files))
	}

	b.do("choose the user and a password",
		chromedp.SetValue(chromedp.ID("java-user"), "app2"),
		chromedp.Clear(chromedp.ID("java-password")),
		chromedp.SendKeys(chromedp.ID("java-password"), "s3cret-store"),
	)
	java := unzip(t, b.download(`[data-action="download-java"]`))
	for _, f := range []string{"client.keystore.p12", "client.truststore.jks", "client.properties"} {
		if java[f] == "" {
			t.Errorf("Java zip lacks %s: %v", f, keys(java))
		}
	}
	if p := java["client.properties"]; !strings.Contains(p, "bootstrap.servers=kafka.example.com:9093") || !strings.Contains(p, "ssl.keystore.password=s3cret-store") {
		t.Errorf("client.properties:\n%s", p)
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestBrowserAcknowledge shows a pending renewal as the service's banner,
// the red line and the Expiring badge, and clears all of them with
// "Acknowledge certificate" from the "..." menu, used by keyboard.
func TestBrowserAcknowledge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.pendingRenewal("app1")
	b := newTab(t, e, 1280, 800)
	b.login(e.Developer.Email, password(e.Developer))

	b.open("/projects/demo")
	if got := b.text("#renewal-kafka1-app1 .badge"); got != "Waiting" {
		t.Errorf("open renewal of app1 on the project page %q, want Waiting", got)
	}
	b.shot("project-renewals")
	b.open("/projects/demo/services/kafka1")
	if got := b.text("#expiring-banner .banner-title"); got != "Your Kafka user certificates are expiring" {
		t.Fatalf("banner title %q", got)
	}
	b.shot("service-expiring")
	b.clickAndLoad("#expiring-banner .banner-link") // Get the latest certificate
	if loc := b.location(); loc != usersPath {
		t.Fatalf("Get the latest certificate leads to %s", loc)
	}
	if got := b.text("#expiring-notice"); !strings.HasPrefix(got, "Access certificate for 1 user is about to expire. The renewed certificate is available for download now.") {
		t.Errorf("red line %q", got)
	}
	if got := b.text("#user-app1 .badge"); got != "Expiring" {
		t.Errorf("badge of app1 %q, want Expiring", got)
	}
	if got := b.text("#user-app2 .badge"); got != "Valid" {
		t.Errorf("badge of app2 %q, want Valid", got)
	}
	b.shot("users-expiring")

	// Keyboard only: focus the menu button, open it with Enter (the first
	// item gets focus), and press Enter on "Acknowledge certificate".
	b.do("open the menu by keyboard",
		chromedp.Focus(chromedp.CSS(`#user-app1 details.menu summary`)),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`#user-app1 [data-action="acknowledge"]`)),
		chromedp.Poll[chromedp.Void](`document.activeElement && document.activeElement.dataset.action === "acknowledge"`),
	)
	b.shot("users-menu-open")
	b.do("arrow keys move through the menu and come back",
		chromedp.KeyEvent(kb.ArrowDown),
		chromedp.Poll[chromedp.Void](`document.activeElement.textContent.trim() === "Details and history"`),
		chromedp.KeyEvent(kb.ArrowUp),
		chromedp.Poll[chromedp.Void](`document.activeElement.dataset.action === "acknowledge"`),
	)
	b.keysAndLoad(kb.Enter)
	if got := b.text("#flash"); !strings.HasPrefix(got, "Acknowledged: app1") {
		t.Errorf("flash %q", got)
	}
	if got := b.text("#user-app1 .badge"); got != "Valid" {
		t.Errorf("badge of app1 after acknowledging %q, want Valid", got)
	}
	if b.count("#expiring-notice") != 0 {
		t.Error("red line still shown after acknowledging")
	}
	b.open("/projects/demo/services/kafka1")
	if b.count("#expiring-banner") != 0 {
		t.Error("banner still shown after acknowledging")
	}
	b.open("/projects/demo")
	if got := b.text("#renewal-kafka1-app1 .badge"); got != "Acknowledged" {
		t.Errorf("open renewal of app1 after acknowledging %q, want Acknowledged", got)
	}
	if got := b.text(`#renewal-kafka1-app1 [data-label="Acknowledged"] .sub`); !strings.HasPrefix(got, "by "+e.Developer.Email) {
		t.Errorf("acknowledged by %q", got)
	}
	b.shot("project-renewal-acknowledged")
	v := e.creds("app1")
	if v.Renewal == nil || v.Renewal.AcknowledgedBy != e.Developer.Email {
		t.Errorf("renewal after acknowledging: %+v", v.Renewal)
	}
}

// TestBrowserMenuEscape closes the "..." menu with Escape and gives the
// focus back to its button.
func TestBrowserMenuEscape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newTab(t, e, 1280, 800)
	b.login(e.Admin.Email, password(e.Admin))
	b.open(usersPath)
	b.do("open and close the menu",
		chromedp.Click(chromedp.CSS(`#user-app2 details.menu summary`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`#user-app2 [data-action="reset"]`)),
		chromedp.KeyEvent(kb.Escape),
		chromedp.Poll[chromedp.Void](`!document.querySelector("#user-app2 details.menu").open`),
		chromedp.Poll[chromedp.Void](`document.activeElement === document.querySelector("#user-app2 details.menu summary")`),
	)
}

// TestBrowserResetCredentials resets a user's credentials from the "..."
// menu of its page, through the confirmation dialog, and sees a new serial.
func TestBrowserResetCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.creds("app2")
	b := newTab(t, e, 1280, 800)
	b.login(e.Operator.Email, password(e.Operator))
	b.open(usersPath + "/app2")
	if got := b.text("[data-serial]"); got != before.Current.Serial {
		t.Fatalf("serial on the page %q, want %q", got, before.Current.Serial)
	}
	b.do("choose Reset credentials",
		chromedp.Click(chromedp.CSS(`.user-menu details.menu summary`), chromedp.NodeVisible),
		chromedp.Click(chromedp.CSS(`.user-menu [data-action="reset"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("confirm-dialog")),
	)
	if got := b.text("#confirm-title"); got != "Reset the credentials of app2?" {
		t.Errorf("confirmation %q", got)
	}
	b.shot("confirm-reset")
	b.clickAndLoad("#confirm-ok")
	after := e.creds("app2")
	if after.Current.Serial == before.Current.Serial || after.Current.Generation != before.Current.Generation+1 {
		t.Fatalf("serial %s generation %d after reset; before %s %d", after.Current.Serial, after.Current.Generation, before.Current.Serial, before.Current.Generation)
	}
	if loc := b.location(); loc != usersPath+"/app2" {
		t.Errorf("after reset at %s", loc)
	}
	if got := b.text("[data-serial]"); got != after.Current.Serial {
		t.Errorf("serial on the page %q, want the new %q", got, after.Current.Serial)
	}
	if got := b.text("#flash"); !strings.Contains(got, after.Current.Serial) {
		t.Errorf("flash %q", got)
	}
	if n := b.count("#history tbody tr"); n != 2 {
		t.Errorf("history shows %d certificates, want 2", n)
	}
	b.shot("user-after-reset")

	// Cancel does nothing.
	b.do("cancel a reset",
		chromedp.Click(chromedp.CSS(`.user-menu details.menu summary`), chromedp.NodeVisible),
		chromedp.Click(chromedp.CSS(`.user-menu [data-action="reset"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("confirm-dialog")),
		chromedp.Click(chromedp.CSS(`#confirm-dialog button[value="cancel"]`)),
		chromedp.WaitNotVisible(chromedp.ID("confirm-dialog")),
	)
	if e.creds("app2").Current.Serial != after.Current.Serial {
		t.Error("Cancel reset the credentials")
	}
}

// TestBrowserReadOnly: a read_only member sees certificates but no key or
// password controls, and the reveal endpoint refuses them.
func TestBrowserReadOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newTab(t, e, 1280, 800)
	b.login(e.ReadOnly.Email, password(e.ReadOnly))
	b.open(usersPath)
	if n := b.count("[data-show-key]"); n != 0 {
		t.Errorf("read_only sees %d Show access key buttons", n)
	}
	if n := b.count("[data-reveal-password], [data-copy-password], [data-action=download-zip], [data-action=download-java]"); n != 0 {
		t.Errorf("read_only sees %d password or download controls", n)
	}
	if n := b.count("[data-show-cert]"); n != 3 {
		t.Errorf("read_only sees %d Show access cert buttons, want 3", n)
	}
	if got := b.text("#user-app1 .password-cell"); got != "Hidden for your role" {
		t.Errorf("password cell %q", got)
	}
	b.shot("users-read-only")
	status := run(b, "reveal as read_only", chromedp.Evaluate[int](`(async () => {
		const body = new FormData();
		body.append("csrf", document.querySelector('input[name="csrf"]').value);
		body.append("what", "key");
		const res = await fetch(location.pathname + "/app1/reveal", {method: "POST", body, headers: {Accept: "application/json"}});
		return res.status;
	})()`, chromedp.EvalAwaitPromise))
	if status != http.StatusForbidden {
		t.Errorf("reveal as read_only: %d, want 403", status)
	}
}

// TestBrowserCSRF: a POST without the session's CSRF token is refused,
// from the page and from outside it with the session cookie.
func TestBrowserCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.pendingRenewal("app1")
	b := newTab(t, e, 1280, 800)
	b.login(e.Admin.Email, password(e.Admin))
	b.open(usersPath)
	status := run(b, "post without token", chromedp.Evaluate[int](`(async () => {
		const body = new URLSearchParams({return: location.pathname});
		const res = await fetch(location.pathname + "/app1/acknowledge", {method: "POST", body});
		return res.status;
	})()`, chromedp.EvalAwaitPromise))
	if status != http.StatusForbidden {
		t.Errorf("POST without CSRF token from the page: %d, want 403", status)
	}
	c := b.sessionCookie()
	req, _ := http.NewRequest("POST", e.URL+usersPath+"/app1/acknowledge", strings.NewReader("csrf="+strings.Repeat("0", 64)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("POST with a wrong CSRF token: %d, want 403", res.StatusCode)
	}
	if !e.creds("app1").Pending() {
		t.Error("a refused POST acknowledged the renewal")
	}
}

// TestBrowserLogout: logging out revokes the session; its cookie no longer
// opens pages, nor the API.
func TestBrowserLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newTab(t, e, 1280, 800)
	b.login(e.Admin.Email, password(e.Admin))
	c := b.sessionCookie()
	if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" {
		t.Errorf("session cookie: HttpOnly %v SameSite %q Path %q", c.HTTPOnly, c.SameSite, c.Path)
	}
	b.clickAndLoad("#logout")
	if loc := b.location(); loc != "/login" {
		t.Errorf("after logout at %s", loc)
	}
	if got := b.text("#flash"); got != "You have logged out." {
		t.Errorf("flash %q", got)
	}
	b.open("/projects")
	if loc := b.location(); !strings.HasPrefix(loc, "/login") {
		t.Errorf("after logout /projects shows %s", loc)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", e.URL+"/projects", nil)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("old cookie after logout: %d %s, want a redirect to /login", res.StatusCode, res.Header.Get("Location"))
	}
	req, _ = http.NewRequest("GET", e.URL+"/v1/project", nil)
	req.Header.Set("Authorization", "Bearer "+c.Value)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("old session token on the API: %d, want 401", res.StatusCode)
	}
}

// TestBrowserNarrow renders the main pages about 400 px wide: nothing
// scrolls sideways and the users table turns into cards.
func TestBrowserNarrow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.pendingRenewal("app1")
	b := newTab(t, e, 400, 860)
	b.login(e.Admin.Email, password(e.Admin))
	for _, p := range []struct{ name, path string }{
		{"narrow-projects", "/projects"},
		{"narrow-project", "/projects/demo"},
		{"narrow-service", "/projects/demo/services/kafka1"},
		{"narrow-users", usersPath},
		{"narrow-user", usersPath + "/app1"},
		{"narrow-events", "/projects/demo/events"},
		{"narrow-notifications-empty", "/projects/demo/notifications"},
	} {
		b.open(p.path)
		overflow := run(b, "page width", chromedp.Evaluate[int]("document.documentElement.scrollWidth - window.innerWidth"))
		if overflow > 0 {
			t.Errorf("%s scrolls sideways by %d px at 400 px", p.path, overflow)
		}
		b.shot(p.name)
	}
	b.open(usersPath)
	display := run(b, "row display", chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#user-app1")).display`))
	if display != "block" {
		t.Errorf("users table rows are %q at 400 px, want cards (block)", display)
	}
	b.do("the menu opens in a card",
		chromedp.Click(chromedp.CSS(`#user-app1 details.menu summary`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`#user-app1 [data-action="acknowledge"]`)),
	)
	b.shot("narrow-users-menu")
	b.open("/login") // already logged in: goes to the projects
	b.clickAndLoad("#logout")
	b.shot("narrow-login")
}

// TestBrowserNotifications opens the notifications page from the project's
// tabs after two years of renewals, sees the renewal's row with its
// undelivered emails, opens a message, and reads the page at 1280 and at
// 400 px without sideways scrolling.
func TestBrowserNotifications(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ns := e.notificationHistory()
	renewed := ns[len(ns)-1]
	if renewed.Kind != "renewed" {
		t.Fatalf("oldest notification is %s", renewed.Kind)
	}
	b := newTab(t, e, 1280, 800)
	b.login(e.Developer.Email, password(e.Developer))
	b.open("/projects/demo")
	b.clickAndLoad(`.tabs a[href="/projects/demo/notifications"]`)
	if loc := b.location(); loc != "/projects/demo/notifications" {
		t.Fatalf("the Notifications tab leads to %s", loc)
	}
	if n := b.count("#notifications > tbody.notification"); n != 4 {
		t.Errorf("%d notifications shown, want 4", n)
	}
	row := "#notification-" + renewed.ID
	if got := b.text(row + " .tag-kind"); got != "Renewed" {
		t.Errorf("kind of the renewal %q", got)
	}
	if got := b.text(row + " .notification-subject"); got != renewed.Subject {
		t.Errorf("subject %q, want %q", got, renewed.Subject)
	}
	alice := row + ` tr.delivery[data-target="alice@example.com"]`
	if got := b.text(alice + " .badge"); got != "Undelivered" {
		t.Errorf("delivery to alice %q, want Undelivered", got)
	}
	if got := b.text(alice + ` [data-label="Last error"]`); got != "no SMTP server is configured (--smtp-url)" {
		t.Errorf("last error %q", got)
	}
	if got := b.text(row + ` tr.delivery[data-channel="webhook"] .badge`); got != "Delivered" {
		t.Errorf("webhook delivery %q, want Delivered", got)
	}
	if got := b.text(`tbody[data-kind="reminder"] tr.delivery[data-channel="webhook"] [data-label="Last error"]`); !strings.HasSuffix(got, "<html>busy</html>") {
		t.Errorf("last error of the pending webhook shown as %q, want the text as it is", got)
	}
	overflow := run(b, "page width", chromedp.Evaluate[int]("document.documentElement.scrollWidth - window.innerWidth"))
	if overflow > 0 {
		t.Errorf("the notifications page scrolls sideways by %d px at 1280 px", overflow)
	}
	b.shot("notifications")
	b.do("open the renewal's message",
		chromedp.Click(chromedp.CSS(row+" .message summary"), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(row+" .message-text")),
	)
	if got := b.text(row + " .message-text"); !strings.Contains(got, "kafka1 / app1") {
		t.Errorf("message %.200q", got)
	}
	b.shot("notifications-message")

	b.do("narrow the window", chromedp.EmulateViewport(400, 860))
	b.open("/projects/demo/notifications")
	overflow = run(b, "page width", chromedp.Evaluate[int]("document.documentElement.scrollWidth - window.innerWidth"))
	if overflow > 0 {
		t.Errorf("the notifications page scrolls sideways by %d px at 400 px", overflow)
	}
	display := run(b, "notification display", chromedp.Evaluate[string](`getComputedStyle(document.querySelector("`+row+`")).display`))
	if display != "block" {
		t.Errorf("notifications are %q at 400 px, want cards (block)", display)
	}
	if got := b.text(alice + " .badge"); got != "Undelivered" {
		t.Errorf("delivery to alice at 400 px %q", got)
	}
	b.shot("narrow-notifications")
}
