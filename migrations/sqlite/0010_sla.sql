-- A conversation's SLA clocks (JSON: target -> policy, state, due time…), kept with
-- the conversation so that filters, templates and scripts read them at no extra
-- cost. NULL when no SLA policy applies. Their alarms are rows of `timers`
-- (`sla:<target>:warning`, `sla:<target>:breached`).
ALTER TABLE conversations ADD COLUMN sla TEXT;
