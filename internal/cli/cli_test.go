package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred/internal/httpapi"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestResolve(t *testing.T) {
	file := fileConfig{URL: "https://file.example", Token: "file-token", Project: "file-project", CACert: "/file/ca.pem"}
	for _, tc := range []struct {
		name             string
		flags            settings
		env              map[string]string
		file             fileConfig
		url, token, from string
		project, caCert  string
	}{
		{name: "nothing", url: DefaultURL},
		{name: "file only", file: file, url: file.URL, token: "file-token", from: "the config file", project: "file-project", caCert: "/file/ca.pem"},
		{
			name: "kcred variables win over the file",
			env:  map[string]string{"KCRED_URL": "https://env.example", "KCRED_TOKEN": "env-token", "KCRED_PROJECT": "env-project", "KCRED_CA_CERT": "/env/ca.pem"},
			file: file,
			url:  "https://env.example", token: "env-token", from: "KCRED_TOKEN", project: "env-project", caCert: "/env/ca.pem",
		},
		{
			name:  "flags win over everything",
			flags: settings{URL: "https://flag.example", Token: "flag-token", Project: "flag-project", CACert: "/flag/ca.pem"},
			env:   map[string]string{"KCRED_URL": "https://env.example", "KCRED_TOKEN": "env-token", "KCRED_PROJECT": "env-project", "AIVEN_WEB_URL": "https://aiven.example"},
			file:  file,
			url:   "https://flag.example", token: "flag-token", from: "--token", project: "flag-project", caCert: "/flag/ca.pem",
		},
		{
			name: "aiven variables when the kcred ones are unset",
			env:  map[string]string{"AIVEN_WEB_URL": "https://aiven.example", "AIVEN_AUTH_TOKEN": "aiven-token", "AIVEN_PROJECT": "aiven-project", "AIVEN_CA_CERT": "/aiven/ca.pem"},
			url:  "https://aiven.example", token: "aiven-token", from: "AIVEN_AUTH_TOKEN", project: "aiven-project", caCert: "/aiven/ca.pem",
		},
		{
			name: "kcred variables win over aiven ones",
			env: map[string]string{"AIVEN_WEB_URL": "https://aiven.example", "AIVEN_AUTH_TOKEN": "aiven-token", "AIVEN_PROJECT": "aiven-project",
				"KCRED_URL": "https://env.example", "KCRED_TOKEN": "env-token", "KCRED_PROJECT": "env-project"},
			url: "https://env.example", token: "env-token", from: "KCRED_TOKEN", project: "env-project",
		},
		{
			name: "an Aiven token never goes to the config file's server",
			env:  map[string]string{"AIVEN_AUTH_TOKEN": "aiven-token"},
			file: file,
			url:  file.URL, token: "file-token", from: "the config file", project: "file-project", caCert: "/file/ca.pem",
		},
		{
			name: "an Aiven token never goes to the default server",
			env:  map[string]string{"AIVEN_AUTH_TOKEN": "aiven-token"},
			url:  DefaultURL,
		},
		{
			name: "the config file's token never goes to AIVEN_WEB_URL",
			env:  map[string]string{"AIVEN_WEB_URL": "https://aiven.example"},
			file: file,
			url:  "https://aiven.example", project: "file-project", caCert: "/file/ca.pem",
		},
		{
			name: "KCRED_URL with the config file's token",
			env:  map[string]string{"KCRED_URL": "https://env.example"},
			file: file,
			url:  "https://env.example", token: "file-token", from: "the config file", project: "file-project", caCert: "/file/ca.pem",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := resolve(tc.flags, env(tc.env), tc.file)
			if s.URL != tc.url || s.Token != tc.token || s.tokenFrom != tc.from || s.Project != tc.project || s.CACert != tc.caCert {
				t.Errorf("resolve = %+v\nwant url %q token %q from %q project %q ca %q", s, tc.url, tc.token, tc.from, tc.project, tc.caCert)
			}
		})
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "config.json")
	if p, err := configPath(env(map[string]string{"KCRED_CONFIG": path})); err != nil || p != path {
		t.Fatalf("configPath = %q, %v", p, err)
	}
	var warn bytes.Buffer
	if c, err := loadConfig(path, &warn); err != nil || c != (fileConfig{}) {
		t.Errorf("missing file: %+v, %v", c, err)
	}
	want := fileConfig{URL: "https://k.example", Token: "secret-token", Project: "p"}
	if err := saveConfig(path, want); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %o (%v)", p, fi.Mode().Perm(), mode, err)
		}
	}
	if c, err := loadConfig(path, &warn); err != nil || c != want {
		t.Errorf("loaded %+v, %v; want %+v", c, err, want)
	}
	if warn.Len() != 0 {
		t.Errorf("warned about a 0600 file: %s", warn.String())
	}
	os.Chmod(path, 0o644)
	loadConfig(path, &warn)
	if !strings.Contains(warn.String(), "chmod 600") {
		t.Errorf("no warning about a config file readable by others: %q", warn.String())
	}

	os.WriteFile(path, []byte(`{"token": "secret-token",`), 0o600)
	_, err := loadConfig(path, &warn)
	if err == nil || strings.Contains(err.Error(), "secret-token") || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("broken file: %v", err)
	}
}

func TestSentence(t *testing.T) {
	for in, want := range map[string]string{
		"Invalid token.":                     "invalid token",
		`Service user "x" does not exist.`:   `service user "x" does not exist`,
		"TLS is required.":                   "TLS is required",
		"":                                   "",
		"Your role in project \"p\" (x) ...": "your role in project \"p\" (x) ..",
	} {
		if got := sentence(in); got != want {
			t.Errorf("sentence(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCertState(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	later := httpapi.Time(now.Add(time.Hour))
	past := httpapi.Time(now.Add(-time.Hour))
	for _, tc := range []struct {
		u    httpapi.User
		want string
	}{
		{httpapi.User{AccessCertNotValidAfterTime: later}, "Valid"},
		{httpapi.User{AccessCertNotValidAfterTime: later, ExpiringCertNotValidAfterTime: &later}, "Expiring"},
		{httpapi.User{AccessCertNotValidAfterTime: past}, "Expired"},
		{httpapi.User{AccessCertNotValidAfterTime: past, ExpiringCertNotValidAfterTime: &past}, "Expired"},
		{httpapi.User{AccessCertNotValidAfterTime: httpapi.Time(now)}, "Expired"},
	} {
		if got := certState(tc.u, now); got != tc.want {
			t.Errorf("certState(%+v) = %s, want %s", tc.u, got, tc.want)
		}
	}
}

func TestPrintUsers(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	na := httpapi.Time(time.Date(2029, 2, 23, 6, 6, 58, 0, time.UTC))
	pw := "pw"
	var b bytes.Buffer
	printUsers(&b, []httpapi.User{
		{Username: "app1", Type: "normal", AccessCertNotValidAfterTime: na, ExpiringCertNotValidAfterTime: &na},
		{Username: "avnadmin", Type: "primary", AccessCertNotValidAfterTime: na, Password: &pw},
	}, now, false)
	want := "USERNAME  TYPE     CERT NOT AFTER        STATE\n" +
		"app1      normal   2029-02-23T06:06:58Z  Expiring\n" +
		"avnadmin  primary  2029-02-23T06:06:58Z  Valid\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestOutputDir(t *testing.T) {
	dir := t.TempDir()
	if abs, missing, err := outputDir(dir); err != nil || missing || abs != dir {
		t.Errorf("existing dir: %q %v %v", abs, missing, err)
	}
	if _, missing, err := outputDir(filepath.Join(dir, "new", "sub")); err != nil || !missing {
		t.Errorf("missing dir: %v %v", missing, err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o600)
	if _, _, err := outputDir(f); err == nil || !strings.Contains(err.Error(), "is an existing file") {
		t.Errorf("file as dir: %v", err)
	}
	if err := makeOutputDir(filepath.Join(dir, "new", "sub")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "new", "sub")); fi.Mode().Perm() != 0o700 {
		t.Errorf("made dir mode %v", fi.Mode().Perm())
	}
}

func TestReadSecret(t *testing.T) {
	ctx := context.Background()
	var errw bytes.Buffer
	in := strings.NewReader("s3cret\r\nnext line\n")
	if s, err := readSecret(ctx, in, &errw, "Password: ", "password"); err != nil || s != "s3cret" {
		t.Errorf("first line = %q, %v", s, err)
	}
	if s, err := readSecret(ctx, in, &errw, "Password: ", "password"); err != nil || s != "next line" {
		t.Errorf("second line = %q, %v (the first read took more than its line)", s, err)
	}
	if errw.Len() != 0 {
		t.Errorf("prompted on a pipe: %q", errw.String())
	}
	if s, err := readSecret(ctx, strings.NewReader("no-newline"), &errw, "", "token"); err != nil || s != "no-newline" {
		t.Errorf("last line without a newline = %q, %v", s, err)
	}
	if _, err := readSecret(ctx, strings.NewReader(""), &errw, "", "password"); err == nil || !strings.Contains(err.Error(), "no password") {
		t.Errorf("empty input: %v", err)
	}
	if _, err := readSecret(ctx, strings.NewReader("\n"), &errw, "", "password"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty line: %v", err)
	}
}

func TestIsUsageError(t *testing.T) {
	if !IsUsageError(usagef("x")) || !IsUsageError(errors.New(`unknown command "x" for "kcred"`)) || IsUsageError(errors.New("other")) {
		t.Error("IsUsageError is wrong")
	}
}
