"""Where numbers and SMS come from: the demo pool, push webhooks, upstream APIs."""
