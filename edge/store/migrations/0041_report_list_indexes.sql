-- The workbench list at station scale (tens of thousands of reports): each common filter has an index that also
-- gives the list's order (newest first: filed_at, reference), so a page reads only its own rows and sorts nothing.
-- Checked by tests/reports/test_query_plans.py.
DROP INDEX reports_filed;
DROP INDEX reports_officer;
CREATE INDEX reports_newest ON reports (filed_at, reference);
CREATE INDEX reports_state_newest ON reports (state, filed_at, reference);
CREATE INDEX reports_type_newest ON reports (type, filed_at, reference);
CREATE INDEX reports_officer_newest ON reports (officer, filed_at, reference);
CREATE INDEX reports_breached_newest ON reports (filed_at, reference) WHERE sla_breached = 1;
CREATE INDEX report_shares_active ON report_shares (agency_user, until) WHERE revoked_at IS NULL;
