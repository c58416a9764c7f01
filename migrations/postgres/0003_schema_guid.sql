-- Schemas are also found by guid (`GET /schemas/guids/{guid}`): the guid is the first half of
-- the fingerprint, so a range over `fingerprint` alone (in any context) finds one.
CREATE INDEX schemas_by_fingerprint ON schemas (fingerprint);
