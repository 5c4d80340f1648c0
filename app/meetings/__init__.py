"""GPO meetings: scheduling, attendance, reviews of problems, agenda and minutes."""
