package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kcred/kcred/internal/credfiles"
)

// DefaultURL is the server address used when nothing else names one: where
// `kcred server` listens by default.
const DefaultURL = "http://127.0.0.1:8080"

// fileConfig is the config file `kcred login` writes.
type fileConfig struct {
	URL     string `json:"url,omitempty"`
	Token   string `json:"token,omitempty"`
	Project string `json:"project,omitempty"`
	CACert  string `json:"ca_cert,omitempty"`
}

// configPath returns $KCRED_CONFIG, or kcred/config.json under the user's
// config directory.
func configPath(getenv func(string) string) (string, error) {
	if p := getenv("KCRED_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a config directory (%v); set KCRED_CONFIG to a file path", err)
	}
	return filepath.Join(dir, "kcred", "config.json"), nil
}

// loadConfig reads the config file at path; a missing file is an empty
// config. warn gets a note when the file is readable by others.
func loadConfig(path string, warn io.Writer) (fileConfig, error) {
	var c fileConfig
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	} else if err != nil {
		return c, fmt.Errorf("cannot read the config file: %v", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("the config file %s is not valid JSON (%v); fix it or log in again with \"kcred login\"", path, jsonProblem(err))
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 && c.Token != "" {
		fmt.Fprintf(warn, "kcred: warning: the config file %s holds a token and is readable by others (mode %04o); run: chmod 600 %s\n", path, fi.Mode().Perm(), path)
	}
	return c, nil
}

// jsonProblem describes a JSON syntax error without quoting the input,
// which holds a token.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	return "cannot decode it"
}

// saveConfig writes c to path with mode 0600, making its directory with
// 0700 when missing.
func saveConfig(path string, c fileConfig) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("cannot make the config directory: %v", err)
	}
	if err := credfiles.WriteAtomic(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("cannot write the config file: %v", err)
	}
	return nil
}

// Where a setting came from, highest precedence first.
const (
	srcFlag = iota
	srcKcredEnv
	srcAivenEnv
	srcFile
	srcDefault
	srcNone
)

// settings are the connection settings of one command after resolving
// flags, environment and config file.
type settings struct {
	URL       string
	urlSrc    int
	Token     string
	tokenFrom string // what to tell the user to fix when the token is refused
	Project   string
	CACert    string
}

// resolve picks each setting from the flag, KCRED_*, AIVEN_* (when the
// KCRED_ one is unset, as avn reads them) or the config file, in that
// order.
//
// The AIVEN_* variables and the config file are never mixed: a token from
// AIVEN_AUTH_TOKEN is not sent to the server of the config file, and the
// config file's token is not sent to AIVEN_WEB_URL, so a token for Aiven
// never reaches a kcred server and the other way round.
func resolve(flags settings, getenv func(string) string, file fileConfig) settings {
	var s settings
	s.URL, s.urlSrc = first(flags.URL, getenv("KCRED_URL"), getenv("AIVEN_WEB_URL"), file.URL, DefaultURL)

	var src int
	s.Token, src = first(flags.Token, getenv("KCRED_TOKEN"), pick(s.urlSrc != srcFile && s.urlSrc != srcDefault, getenv("AIVEN_AUTH_TOKEN")),
		pick(s.urlSrc != srcAivenEnv, file.Token), "")
	s.tokenFrom = map[int]string{
		srcFlag: "--token", srcKcredEnv: "KCRED_TOKEN", srcAivenEnv: "AIVEN_AUTH_TOKEN", srcFile: "the config file",
	}[src]

	s.Project, _ = first(flags.Project, getenv("KCRED_PROJECT"), getenv("AIVEN_PROJECT"), file.Project, "")
	s.CACert, _ = first(flags.CACert, getenv("KCRED_CA_CERT"), getenv("AIVEN_CA_CERT"), file.CACert, "")
	return s
}

// first returns the first non-empty value and its index, which is its
// source (srcFlag ... srcDefault), or srcNone.
func first(vals ...string) (string, int) {
	for i, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v, i
		}
	}
	return "", srcNone
}

func pick(ok bool, v string) string {
	if ok {
		return v
	}
	return ""
}
