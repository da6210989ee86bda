package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Client is a client of kcred's API, the one the CLI and the agent use. It
// speaks the wire types of this package. It is safe for concurrent use.
//
// Only GET requests are retried, and only when the connection failed before
// an answer came: a POST, PUT or DELETE that may have reached the server is
// never sent twice, since creating a user or resetting credentials twice is
// not the same as doing it once.
type Client struct {
	base  string
	token string
	hc    *http.Client
	// UserAgent is sent as User-Agent; "kcred-client" when empty.
	UserAgent string
}

// NewClient returns a client of the kcred server at baseURL (such as
// "https://kcred.example.com"; a trailing "/" or "/v1" is dropped) that
// authenticates with token as "Authorization: Bearer <token>" (no header
// when token is empty). httpClient is http.DefaultClient when nil.
func NewClient(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	base := strings.TrimRight(baseURL, "/")
	base = strings.TrimSuffix(base, "/v1")
	return &Client{base: strings.TrimRight(base, "/"), token: token, hc: httpClient}
}

// BaseURL returns the server address the client sends requests to.
func (c *Client) BaseURL() string { return c.base }

// APIError is an answer outside 2xx, decoded from Aiven's error format
// {"message": ..., "errors": [{"message", "status", "error_code"}]}.
// Message is the server's sentence, meant to be shown as it is; it never
// holds a secret.
type APIError struct {
	Status  int    // HTTP status
	Message string // the server's message, or a description of a non-JSON answer
	Code    string // kcred's error code (error_code of the first error), if any
}

// Error implements the error interface.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// ErrorStatus returns the HTTP status of the *APIError in err's chain, and
// 0 when there is none (a connection failure, a cancelled context).
func ErrorStatus(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// maxResponseBytes bounds what is read of one answer. A service with
// thousands of users and their keys stays far below it.
const maxResponseBytes = 64 << 20

// getAttempts is how often a GET is tried when the connection fails.
const getAttempts = 3

// do sends one request to path (already escaped, starting with /v1) with in
// as its JSON body (none when nil) and decodes a 2xx answer into out (when
// not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("kcred client: encode %s %s: %w", method, path, err)
		}
	}
	attempts := 1
	if method == http.MethodGet {
		attempts = getAttempts
	}
	var res *http.Response
	for i := 0; ; i++ {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("kcred client: %w", err)
		}
		if body == nil {
			req.Body, req.ContentLength = http.NoBody, 0
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", "application/json")
		ua := c.UserAgent
		if ua == "" {
			ua = "kcred-client"
		}
		req.Header.Set("User-Agent", ua)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		res, err = c.hc.Do(req)
		if err == nil {
			break
		}
		if i+1 >= attempts || ctx.Err() != nil || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(i+1) * 200 * time.Millisecond):
		}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("kcred client: read the answer to %s %s: %w", method, path, err)
	}
	if len(b) > maxResponseBytes {
		return fmt.Errorf("kcred client: the answer to %s %s is larger than %d MiB", method, path, maxResponseBytes>>20)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return apiError(res, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("kcred client: the answer to %s %s is not the expected JSON (%v); is %s a kcred server?", method, path, err, c.base)
	}
	return nil
}

// retryable reports whether a failed GET may be sent again: the
// connection was refused or dropped before an answer came, which a server
// that is restarting does. Anything else (a TLS failure, an unknown host, a
// timeout, a cancelled context) would fail the same way again or has
// already waited long enough.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// apiError decodes Aiven's error body, or describes an answer that has
// none (a proxy's HTML page, say) without quoting it.
func apiError(res *http.Response, b []byte) error {
	var body struct {
		Message string `json:"message"`
		Errors  []struct {
			Message   string `json:"message"`
			Status    int    `json:"status"`
			ErrorCode string `json:"error_code"`
		} `json:"errors"`
	}
	e := &APIError{Status: res.StatusCode}
	if json.Unmarshal(b, &body) == nil {
		e.Message = body.Message
		if len(body.Errors) > 0 {
			e.Code = body.Errors[0].ErrorCode
			if e.Message == "" {
				e.Message = body.Errors[0].Message
			}
		}
	}
	// One line, so that whoever prints it prints one line.
	e.Message = strings.Join(strings.Fields(e.Message), " ")
	if e.Message == "" {
		e.Message = fmt.Sprintf("The server answered %s without an error message.", res.Status)
	}
	return e
}

// seg escapes path segments and joins them under /v1.
func seg(parts ...string) string {
	var b strings.Builder
	b.WriteString("/v1")
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

func secretsQuery(secrets bool) url.Values {
	return url.Values{"include_secrets": {fmt.Sprint(secrets)}}
}

// LoginResult is the answer of POST /v1/userauth.
type LoginResult struct {
	Token     string `json:"token"`
	UserEmail string `json:"user_email"`
	State     string `json:"state"`
}

// Login exchanges an email and password for a token (POST /v1/userauth).
// It needs no token. A wrong email or password is an *APIError with 401.
func (c *Client) Login(ctx context.Context, email, password string) (*LoginResult, error) {
	var out LoginResult
	if err := c.do(ctx, http.MethodPost, "/v1/userauth", nil, map[string]string{"email": email, "password": password}, &out); err != nil {
		return nil, err
	}
	if out.Token == "" {
		return nil, fmt.Errorf("kcred client: the server answered the login without a token")
	}
	return &out, nil
}

// Account is the caller as GET /v1/me describes it.
type Account struct {
	Email     string `json:"user_email"`
	RealName  string `json:"real_name"`
	State     string `json:"state"`
	Superuser bool   `json:"superuser"`
}

// Me returns the account the token belongs to (GET /v1/me).
func (c *Client) Me(ctx context.Context) (*Account, error) {
	var out struct {
		User Account `json:"user"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/me", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out.User, nil
}

// ProjectCreateRequest is the body of POST /v1/project. A nil CertPolicy
// (or a zero field of it) means the server's default.
type ProjectCreateRequest struct {
	Project    string      `json:"project"`
	TechEmails []TechEmail `json:"tech_emails,omitempty"`
	CertPolicy *CertPolicy `json:"cert_policy,omitempty"`
}

// ListProjects returns the projects the caller is a member of.
func (c *Client) ListProjects(ctx context.Context) ([]Project, error) {
	var out struct {
		Projects []Project `json:"projects"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/project", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Projects, nil
}

// CreateProject makes a project with its CA; the caller becomes its admin.
func (c *Client) CreateProject(ctx context.Context, in ProjectCreateRequest) (*Project, error) {
	var out struct {
		Project Project `json:"project"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/project", nil, in, &out); err != nil {
		return nil, err
	}
	return &out.Project, nil
}

// GetProject returns a project.
func (c *Client) GetProject(ctx context.Context, project string) (*Project, error) {
	var out struct {
		Project Project `json:"project"`
	}
	if err := c.do(ctx, http.MethodGet, seg("project", project), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out.Project, nil
}

// ProjectCA returns the PEM of the project CA: a bundle of the old and new
// CA while the CA is being rotated.
func (c *Client) ProjectCA(ctx context.Context, project string) (string, error) {
	var out struct {
		Certificate string `json:"certificate"`
	}
	if err := c.do(ctx, http.MethodGet, seg("project", project, "kms", "ca"), nil, nil, &out); err != nil {
		return "", err
	}
	if out.Certificate == "" {
		return "", fmt.Errorf("kcred client: the server sent no CA certificate for project %q", project)
	}
	return out.Certificate, nil
}

// IssueServerCertificate asks for a broker's server certificate signed by
// the project CA (admins only). Its private key is in the answer only.
func (c *Client) IssueServerCertificate(ctx context.Context, project string, in ServerCertificateRequest) (*ServerCertificate, error) {
	var out ServerCertificate
	if err := c.do(ctx, http.MethodPost, seg("project", project, "kms", "server-certificate"), nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ServiceCreateRequest is the body of POST /v1/project/{p}/service.
type ServiceCreateRequest struct {
	ServiceName string      `json:"service_name"`
	ServiceType string      `json:"service_type"`
	ServiceURI  string      `json:"service_uri,omitempty"`
	TechEmails  []TechEmail `json:"tech_emails,omitempty"`
}

// ListServices returns a project's services with their users, never with
// passwords or keys.
func (c *Client) ListServices(ctx context.Context, project string) ([]Service, error) {
	var out struct {
		Services []Service `json:"services"`
	}
	if err := c.do(ctx, http.MethodGet, seg("project", project, "service"), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Services, nil
}

// CreateService registers a service; it comes with its primary user
// avnadmin, whose secrets the answer carries. An empty ServiceType is
// "kafka".
func (c *Client) CreateService(ctx context.Context, project string, in ServiceCreateRequest) (*Service, error) {
	if in.ServiceType == "" {
		in.ServiceType = "kafka"
	}
	var out struct {
		Service Service `json:"service"`
	}
	if err := c.do(ctx, http.MethodPost, seg("project", project, "service"), nil, in, &out); err != nil {
		return nil, err
	}
	return &out.Service, nil
}

// GetService returns a service with its users. With secrets, members who
// may read them get every user's password and key, and the server records
// the read in the audit log; ask for them only when they are needed.
func (c *Client) GetService(ctx context.Context, project, service string, secrets bool) (*Service, error) {
	var out struct {
		Service Service `json:"service"`
	}
	if err := c.do(ctx, http.MethodGet, seg("project", project, "service", service), secretsQuery(secrets), nil, &out); err != nil {
		return nil, err
	}
	return &out.Service, nil
}

// DeleteService deletes a service with all its users and certificates.
func (c *Client) DeleteService(ctx context.Context, project, service string) error {
	return c.do(ctx, http.MethodDelete, seg("project", project, "service", service), nil, nil, nil)
}

// CreateServiceUser makes a service user with its first key and
// certificate; the answer carries its password and key.
func (c *Client) CreateServiceUser(ctx context.Context, project, service, username string) (*User, error) {
	var out struct {
		User User `json:"user"`
	}
	if err := c.do(ctx, http.MethodPost, seg("project", project, "service", service, "user"), nil, map[string]string{"username": username}, &out); err != nil {
		return nil, err
	}
	return &out.User, nil
}

// GetServiceUser returns a service user. With secrets, members who may read
// them get the password and the key (recorded in the audit log); without,
// Password and AccessKey are nil.
func (c *Client) GetServiceUser(ctx context.Context, project, service, username string, secrets bool) (*User, error) {
	var out struct {
		User User `json:"user"`
	}
	if err := c.do(ctx, http.MethodGet, seg("project", project, "service", service, "user", username), secretsQuery(secrets), nil, &out); err != nil {
		return nil, err
	}
	return &out.User, nil
}

// DeleteServiceUser deletes a service user and its certificates.
func (c *Client) DeleteServiceUser(ctx context.Context, project, service, username string) error {
	return c.do(ctx, http.MethodDelete, seg("project", project, "service", service, "user", username), nil, nil, nil)
}

// The operations of ModifyServiceUser, with Aiven's names.
const (
	OpAcknowledgeRenewal = "acknowledge-renewal"
	OpResetCredentials   = "reset-credentials"
)

// ModifyRequest is the body of PUT .../user/{username}.
type ModifyRequest struct {
	Operation   string  `json:"operation"`
	NewPassword *string `json:"new_password,omitempty"` // with reset-credentials; random when nil
}

// ModifyServiceUser runs an operation on a service user (PUT
// .../user/{username}) and returns the service afterwards.
func (c *Client) ModifyServiceUser(ctx context.Context, project, service, username string, in ModifyRequest) (*Service, error) {
	var out struct {
		Service Service `json:"service"`
	}
	if err := c.do(ctx, http.MethodPut, seg("project", project, "service", service, "user", username), nil, in, &out); err != nil {
		return nil, err
	}
	return &out.Service, nil
}

// AcknowledgeRenewal records that the user's renewed certificate is in use,
// which stops the reminders. It succeeds and changes nothing when no
// renewal waits.
func (c *Client) AcknowledgeRenewal(ctx context.Context, project, service, username string) (*Service, error) {
	return c.ModifyServiceUser(ctx, project, service, username, ModifyRequest{Operation: OpAcknowledgeRenewal})
}

// ResetCredentials gives the user a new random password and a new key and
// certificate at once (PUT .../credentials/reset); the old certificate is
// not kept in use. It returns the service afterwards.
func (c *Client) ResetCredentials(ctx context.Context, project, service, username string) (*Service, error) {
	var out struct {
		Service Service `json:"service"`
	}
	if err := c.do(ctx, http.MethodPut, seg("project", project, "service", service, "user", username, "credentials", "reset"), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out.Service, nil
}

// FindUser returns the user named username in s, or nil.
func (s *Service) FindUser(username string) *User {
	for i := range s.Users {
		if s.Users[i].Username == username {
			return &s.Users[i]
		}
	}
	return nil
}
