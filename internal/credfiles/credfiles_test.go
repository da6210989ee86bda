package credfiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPropEscape(t *testing.T) {
	for in, want := range map[string]string{
		`C:\Users\me\client.keystore.p12`: `C:\\Users\\me\\client.keystore.p12`,
		"pass word=:#!":                   "pass word=:#!",
		" leading":                        `\ leading`,
		"line\nbreak":                     `line\nbreak`,
		"pässwörd€":                       `p\u00e4ssw\u00f6rd\u20ac`,
		"😀":                               `\ud83d\ude00`,
	} {
		if got := propEscape(in, true); got != want {
			t.Errorf("propEscape(%q) = %q, want %q", in, got, want)
		}
	}
	props := clientProperties("kafka.example.com:9093", "/d/client.keystore.p12", "/d/client.truststore.jks", "pw123456", "u")
	for _, line := range []string{
		"bootstrap.servers=kafka.example.com:9093\n", "security.protocol=SSL\n", "ssl.keystore.type=PKCS12\n",
		"ssl.keystore.location=/d/client.keystore.p12\n", "ssl.truststore.location=/d/client.truststore.jks\n",
		"ssl.truststore.type=JKS\n", "ssl.keystore.password=pw123456\n", "ssl.truststore.password=pw123456\n", "ssl.key.password=pw123456\n",
	} {
		if !strings.Contains(props, line) {
			t.Errorf("client.properties lacks %q:\n%s", line, props)
		}
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "service.key")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("content = %q", b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v", fi.Mode().Perm())
	}
	// A 0644 file is 0644 whatever the umask.
	if err := WriteAtomic(filepath.Join(dir, "ca.pem"), []byte("ca"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "ca.pem")); fi.Mode().Perm() != 0o644 {
		t.Errorf("ca.pem mode = %v", fi.Mode().Perm())
	}
	// No temporary file is left behind, also after a failure.
	os.Mkdir(filepath.Join(dir, "adir"), 0o700)
	if err := WriteAtomic(filepath.Join(dir, "adir"), []byte("x"), 0o600); err == nil {
		t.Error("wrote over a directory")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("directory holds %d entries, want 3 (service.key, ca.pem, adir)", len(entries))
	}
}
