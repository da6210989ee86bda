// Package cli is kcred's client commands: login, project and service, with
// the names and flags of Aiven's avn so that its users feel at home. They
// talk to a kcred server through the client in internal/httpapi.
package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kcred/kcred/internal/httpapi"
)

// UsageError is a mistake in how a command was called: a missing flag or
// argument, a bad value. kcred exits 2 on it.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// IsUsageError reports whether err is a mistake in how kcred was called,
// including an unknown command, which cobra reports as a plain error.
func IsUsageError(err error) bool {
	var ue UsageError
	return errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command ")
}

// AddCommands adds the client commands (login, project, service) to root.
func AddCommands(root *cobra.Command) {
	o := &options{getenv: os.Getenv, now: time.Now}
	root.AddCommand(newLoginCmd(o), newProjectCmd(o), newServiceCmd(o), newAgentCmd(o))
}

// connectionHelp is the part of a group's help that says where settings
// come from.
const connectionHelp = `Connection settings, highest precedence first: the flags --url, --token,
--project and --ca-cert; the variables KCRED_URL, KCRED_TOKEN, KCRED_PROJECT
and KCRED_CA_CERT; AIVEN_WEB_URL, AIVEN_AUTH_TOKEN, AIVEN_PROJECT and
AIVEN_CA_CERT, as avn reads them; the config file that "kcred login" writes
($KCRED_CONFIG, or kcred/config.json in your config directory). The server
is http://127.0.0.1:8080 when none is given. A token from AIVEN_AUTH_TOKEN is
never sent to the server of the config file, nor the config file's token to
AIVEN_WEB_URL.`

// options are the settings shared by the client commands.
type options struct {
	flags  settings
	getenv func(string) string
	now    func() time.Time
}

// addConnFlags adds --url, --token, --ca-cert and --project.
func (o *options) addConnFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.flags.URL, "url", "", "kcred server address (KCRED_URL; default "+DefaultURL+")")
	fs.StringVar(&o.flags.Token, "token", "", "API token (KCRED_TOKEN, or \"kcred login\": a flag shows in the process list)")
	fs.StringVar(&o.flags.CACert, "ca-cert", "", "PEM file with the CA of the server's HTTPS certificate (KCRED_CA_CERT)")
	fs.StringVar(&o.flags.Project, "project", "", "project to work in (KCRED_PROJECT)")
}

// group returns a command that only holds subcommands: without arguments
// it shows its help, and an unknown subcommand is a usage error.
func group(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:                        use,
		Short:                      short,
		Long:                       long,
		Args:                       cobra.ArbitraryArgs,
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf("; did you mean %q?", s[0])
			}
			return UsageError{errors.New(msg)}
		},
	}
}

// exactArgs accepts exactly the named positional arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(names) == 0 {
			return usagef("%q takes no arguments; got %q", cmd.CommandPath(), args[0])
		}
		return usagef("%q takes %s as its argument; got %d arguments", cmd.CommandPath(), strings.Join(names, " "), len(args))
	}
}

// requireFlag is a usage error when a required flag is empty.
func requireFlag(name, value string) error {
	if strings.TrimSpace(value) == "" {
		return usagef("--%s is required", name)
	}
	return nil
}

// conn is a connection to a kcred server for one command.
type conn struct {
	*httpapi.Client
	s   settings
	now func() time.Time
}

// connect resolves the settings and makes a client. Without a token it
// fails with what to do, unless needToken is false.
func (o *options) connect(cmd *cobra.Command, needToken bool) (*conn, error) {
	r, err := o.resolve(cmd)
	if err != nil {
		return nil, err
	}
	return o.connectWith(r.s, needToken)
}

func (o *options) connectWith(s settings, needToken bool) (*conn, error) {
	if needToken && s.Token == "" {
		return nil, errors.New("not logged in: run \"kcred login --url URL --email EMAIL\" (or --token -), or set KCRED_TOKEN")
	}
	hc, err := httpClient(s.CACert)
	if err != nil {
		return nil, err
	}
	c := httpapi.NewClient(s.URL, s.Token, hc)
	c.UserAgent = "kcred-cli"
	return &conn{Client: c, s: s, now: o.now}, nil
}

// resolved is the outcome of reading flags, environment and config file.
type resolved struct {
	s       settings
	path    string // the config file
	pathErr error  // why there is no config file path
	file    fileConfig
}

// resolve resolves the connection settings and checks the URL.
func (o *options) resolve(cmd *cobra.Command) (resolved, error) {
	var r resolved
	r.path, r.pathErr = configPath(o.getenv)
	if r.pathErr == nil {
		var err error
		if r.file, err = loadConfig(r.path, cmd.ErrOrStderr()); err != nil {
			return r, err
		}
	}
	r.s = resolve(o.flags, o.getenv, r.file)
	u, err := url.Parse(r.s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return r, usagef("invalid server URL %q: use http://host:port or https://host:port", redactURL(r.s.URL))
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		fmt.Fprintf(cmd.ErrOrStderr(), "kcred: warning: %s is plain HTTP: the token, keys and passwords cross the network unencrypted; use https://\n", r.s.URL)
	}
	return r, nil
}

// redactURL drops a password from a URL so that it never reaches an error.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User("xxx")
		return u.String()
	}
	return s
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpClient returns the HTTP client of the commands: the system's proxy
// settings, and with caCert only that file's CAs as roots for HTTPS (as
// curl --cacert does).
func httpClient(caCert string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caCert != "" {
		b, err := os.ReadFile(caCert)
		if err != nil {
			return nil, fmt.Errorf("cannot read the CA certificate %s: %v", caCert, unwrapPath(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("the CA certificate file %s holds no PEM certificate", caCert)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}, nil
}

// project returns the project to work in, or a usage error saying how to
// give one.
func (c *conn) project() (string, error) {
	if c.s.Project == "" {
		return "", usagef("no project given: use --project PROJECT or set KCRED_PROJECT")
	}
	return c.s.Project, nil
}

// target is what a request was about, for error messages.
type target struct{ project, service, username string }

// explain turns an error of the client into one sentence for the user,
// with what to do where kcred knows. It never quotes a token, key or
// password: the server's messages hold none, and neither do requests'
// URLs.
func (c *conn) explain(err error, t target) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	var ae *httpapi.APIError
	if errors.As(err, &ae) {
		msg := ae.Message
		switch {
		case ae.Status == http.StatusUnauthorized:
			fix := map[string]string{
				"--token":          "check --token",
				"KCRED_TOKEN":      "check KCRED_TOKEN, which wins over the config file",
				"AIVEN_AUTH_TOKEN": "check AIVEN_AUTH_TOKEN, or unset it and log in with \"kcred login\"",
			}[c.s.tokenFrom]
			if fix == "" {
				fix = "log in again with \"kcred login\""
			}
			return fmt.Errorf("%s did not accept the token from %s: %s; %s", c.s.URL, c.s.tokenFrom, sentence(msg), fix)
		case ae.Status == http.StatusNotFound && t.username != "" && strings.HasPrefix(msg, "Service user "):
			return fmt.Errorf("service user %q not found in %s", t.username, t.service)
		case ae.Status == http.StatusNotFound && t.service != "" && strings.HasPrefix(msg, "Service "):
			return fmt.Errorf("service %q not found in project %s", t.service, t.project)
		case ae.Status == http.StatusNotFound && t.project != "" && strings.HasPrefix(msg, "Project "):
			return fmt.Errorf("project %q not found, or you are not a member of it", t.project)
		case ae.Status == http.StatusForbidden:
			return fmt.Errorf("permission denied: %s", sentence(msg))
		case ae.Status >= 500:
			return fmt.Errorf("the server at %s failed (HTTP %d): %s", c.s.URL, ae.Status, sentence(msg))
		}
		return errors.New(sentence(msg))
	}
	return transportError(err, c.s.URL)
}

// transportError explains a request that got no answer.
func transportError(err error, server string) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return errors.New(strings.TrimPrefix(err.Error(), "kcred client: "))
	}
	var (
		verr *tls.CertificateVerificationError
		uae  x509.UnknownAuthorityError
		he   x509.HostnameError
		cie  x509.CertificateInvalidError
	)
	inner := ue.Err
	switch {
	case errors.As(inner, &verr) || errors.As(inner, &uae) || errors.As(inner, &he) || errors.As(inner, &cie):
		cause := inner
		if verr != nil {
			cause = verr.Err
		}
		return fmt.Errorf("cannot verify the HTTPS certificate of %s (%v); if a private CA signed it, give that CA with --ca-cert FILE", server, cause)
	case strings.Contains(inner.Error(), "HTTP response to HTTPS client"):
		return fmt.Errorf("%s answers plain HTTP, not HTTPS; use an http:// URL", server)
	case ue.Timeout():
		return fmt.Errorf("the kcred server at %s did not answer in time", server)
	}
	return fmt.Errorf("cannot reach the kcred server at %s: %s", server, rootCause(inner))
}

// rootCause is the innermost useful part of a network error, such as
// "connection refused".
func rootCause(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "cannot resolve " + dns.Name
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err.Error()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the connection closed before an answer came"
	}
	return err.Error()
}

// sentence makes a server message ("Invalid token.") fit after "kcred: ":
// a lower-case first letter unless the first word is an acronym, and no
// final period.
func sentence(msg string) string {
	msg = strings.TrimSuffix(strings.TrimSpace(msg), ".")
	if msg == "" {
		return msg
	}
	word, _, _ := strings.Cut(msg, " ")
	if len(word) > 1 && strings.ToUpper(word[:2]) == word[:2] {
		return msg // "TLS ...", "CA ..."
	}
	return strings.ToLower(msg[:1]) + msg[1:]
}
