"""E-mail: a durable outbox of mails, sent over SMTP by the worker (or logged without SMTP)."""
