// Package notify renders notifications and delivers them: email over SMTP
// (github.com/emersion/go-smtp) and signed webhooks over HTTP.
//
// Render turns a Digest (the pending notices of one project and kind) into a
// subject, a text body, an HTML body and a webhook payload, from templates
// embedded in the binary. Mailer.Send delivers one message to one email
// recipient; WebhookSender.Post delivers one payload to one webhook. Both are
// one attempt: retries, backoff and bookkeeping belong to the caller, which
// passes the delivery's ID so that receivers can drop duplicates (delivery is
// at least once). The package knows nothing of stores or the lifecycle.
package notify
