package kcred

import (
	"net"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
)

var (
	nameRE     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	usernameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.@+-]{0,63}$`)
)

// ValidateName checks a project or service name (what is "project" or
// "service"). It returns EINVALID.
func ValidateName(what, name string) error {
	if !nameRE.MatchString(name) {
		return Errorf(EINVALID, "Invalid %s name %q: use 1 to 63 lowercase letters, digits and dashes, starting with a letter.", what, clip(name))
	}
	return nil
}

// ValidateUsername checks a service username. The pattern never admits a
// path ("..", "/"), so usernames are safe in file names and URLs.
func ValidateUsername(u string) error {
	if !usernameRE.MatchString(u) || strings.Contains(u, "..") {
		return Errorf(EINVALID, "Invalid username %q: use 1 to 64 letters, digits and _ . @ + -, starting with a letter or digit.", clip(u))
	}
	return nil
}

// ParseEmail returns the lowercase address of s, which must be a bare
// address ("a@example.com", not "A <a@example.com>"). It returns EINVALID.
func ParseEmail(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != strings.TrimSpace(s) || len(s) > 254 || !strings.Contains(a.Address, "@") {
		return "", Errorf(EINVALID, "Invalid email address %q.", clip(s))
	}
	return strings.ToLower(a.Address), nil
}

// ParseEmails parses each of list with ParseEmail and removes duplicates.
func ParseEmails(list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	seen := map[string]bool{}
	for _, s := range list {
		e, err := ParseEmail(s)
		if err != nil {
			return nil, err
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, nil
}

// ValidateServiceURI checks a Kafka bootstrap address: empty, or host:port.
func ValidateServiceURI(uri string) error {
	if uri == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(uri)
	n, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || n < 1 || n > 65535 || strings.ContainsAny(host, "/ ") {
		return Errorf(EINVALID, "Invalid service_uri %q: use host:port.", clip(uri))
	}
	return nil
}

// hostLabelRE is one label of a DNS name; a leading "*." is handled apart.
var hostLabelRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// ParseHost checks a host a server certificate may name: an IP address or a
// DNS name, which may start with one "*." wildcard label. It returns the IP
// (nil for a name) or EINVALID.
func ParseHost(h string) (net.IP, error) {
	if ip := net.ParseIP(h); ip != nil {
		return ip, nil
	}
	name := strings.TrimPrefix(strings.ToLower(h), "*.")
	labels := strings.Split(name, ".")
	ok := len(h) <= 253 && name != ""
	for _, l := range labels {
		ok = ok && hostLabelRE.MatchString(l)
	}
	if !ok {
		return nil, Errorf(EINVALID, "Invalid host %q: use a DNS name (kafka-1.example.com, *.kafka.example.com) or an IP address.", clip(h))
	}
	return nil, nil
}

// clip keeps error messages short when the input is long.
func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
