package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBareHandler sends kcred's request to the bare issuing handler: its
// answer must pass the same checks as kcred's.
func TestBareHandler(t *testing.T) {
	*token = "test-token"
	srv := httptest.NewServer(bareHandler())
	defer srv.Close()
	kc := targets["kcred"]
	if err := createUser(srv.Client(), kc, srv.URL+kc.path(), "alice"); err != nil {
		t.Fatalf("bare handler: %v", err)
	}
}

// TestTargets checks, for each server loadgen drives, the request it sends
// (path, credentials, the name asked for, a P-256 key where the API asks
// for a key type) and that only a 200 with a certificate and a key counts:
// the answers are shaped as the real servers' are.
func TestTargets(t *testing.T) {
	*token = "test-token"
	const (
		cert = `-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n`
		key  = `-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA\n-----END EC PRIVATE KEY-----\n`
	)
	cases := []struct {
		target string
		path   string
		check  func(t *testing.T, r *http.Request, body map[string]any) // the request
		good   string                                                   // an answer for "alice"
		bad    []string                                                 // 200s that must not count
	}{{
		target: "kcred",
		path:   "/v1/project/bench/service/kafka1/user",
		check: func(t *testing.T, r *http.Request, body map[string]any) {
			if r.Header.Get("Authorization") != "Bearer test-token" || body["username"] != "alice" {
				t.Errorf("kcred request: %q %v", r.Header.Get("Authorization"), body)
			}
		},
		good: `{"user":{"username":"alice","access_cert":"` + cert + `","access_key":"` + strings.ReplaceAll(key, "EC ", "") + `"}}`,
		bad: []string{
			`{"user":{"username":"bob","access_cert":"` + cert + `","access_key":"` + key + `"}}`,
			`{"user":{"username":"alice","access_cert":"` + cert + `"}}`,
		},
	}, {
		target: "cfssl",
		path:   "/api/v1/cfssl/newcert",
		check: func(t *testing.T, r *http.Request, body map[string]any) {
			req, _ := body["request"].(map[string]any)
			k, _ := req["key"].(map[string]any)
			if req["CN"] != "alice" || k["algo"] != "ecdsa" || k["size"] != 256.0 || body["profile"] != "client" {
				t.Errorf("cfssl request: %v", body)
			}
		},
		good: `{"success":true,"result":{"certificate":"` + cert + `","private_key":"` + key + `"},"errors":[],"messages":[]}`,
		bad: []string{
			`{"success":false,"result":null,"errors":[{"code":5200,"message":"Invalid or unknown policy"}],"messages":[]}`,
			`{"success":true,"result":{"certificate":"` + cert + `"}}`,
		},
	}, {
		target: "vault",
		path:   "/v1/pki/issue/kafka1",
		check: func(t *testing.T, r *http.Request, body map[string]any) {
			if r.Header.Get("X-Vault-Token") != "test-token" || body["common_name"] != "alice" {
				t.Errorf("vault request: %q %v", r.Header.Get("X-Vault-Token"), body)
			}
		},
		good: `{"request_id":"r","data":{"certificate":"` + cert + `","private_key":"` + key + `","private_key_type":"ec"}}`,
		bad:  []string{`{"request_id":"r","data":{"certificate":"` + cert + `"}}`},
	}}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			status, answer := http.StatusOK, tc.good
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != "POST" || r.URL.Path != tc.path {
					t.Errorf("%s %s, want POST %s", r.Method, r.URL.Path, tc.path)
				}
				var body map[string]any
				b, _ := io.ReadAll(r.Body)
				if err := json.Unmarshal(b, &body); err != nil {
					t.Errorf("request body %q: %v", b, err)
				}
				tc.check(t, r, body)
				w.WriteHeader(status)
				io.WriteString(w, answer)
			}))
			defer srv.Close()
			tg := targets[tc.target]
			url := srv.URL + tg.path()

			if err := createUser(srv.Client(), tg, url, "alice"); err != nil {
				t.Errorf("the real answer's shape: %v", err)
			}
			for _, answer = range tc.bad {
				if err := createUser(srv.Client(), tg, url, "alice"); err == nil {
					t.Errorf("counted as created: %s", answer)
				}
			}
			status, answer = http.StatusInternalServerError, tc.good
			if err := createUser(srv.Client(), tg, url, "alice"); err == nil {
				t.Error("a 500 counted as created")
			}
		})
	}
}
