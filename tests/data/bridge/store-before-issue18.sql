-- A pb-bridged store as the code of main at 55b5ae6 (before issue 18) left it:
-- made by a one-off cmocka case in tests/bridge-unit.c of that commit that
-- opened a new store, then called pbb_outbound_sent() (references 7,8 and 9
-- awaiting reports; two rows through a box without references: the kv FIFO),
-- pbb_inbound_journal() (reports and a text) and pbb_report_deliver() (part 7),
-- and `sqlite3 old.db .dump`; PRAGMA user_version added by hand, since .dump
-- omits it. Read by test_bridge__migrates_a_store_of_before_issue18 (bridge-unit.c).
PRAGMA user_version=7;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE messages (  id INTEGER PRIMARY KEY,  dir INTEGER NOT NULL CHECK (dir IN (1, 2)),  state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 8),  dedup_key TEXT NOT NULL,  backend TEXT, backend_id TEXT, peer TEXT, room TEXT, event_id TEXT, body TEXT,  last_error TEXT,  attempts INTEGER NOT NULL DEFAULT 0,  sent_at INTEGER NOT NULL DEFAULT 0,  created_at INTEGER NOT NULL,  updated_at INTEGER NOT NULL, ref TEXT,  UNIQUE (dir, dedup_key));
INSERT INTO messages VALUES(1,2,6,'event:$a','matrix',NULL,'+4915112345678',NULL,'$a','hi',NULL,1,0,1796585752606,1796585752606,'7,8');
INSERT INTO messages VALUES(2,1,3,'at:31@/+4915112345678#e00eef54de8084c2','at:report','31','+4915112345678',NULL,NULL,'7 0 delivered delivered',NULL,1,0,1796585752607,1796585752610,'-');
INSERT INTO messages VALUES(3,1,2,'at:32@/+4915112345678#7c2bd52c4d7639db','at:report','32','+4915112345678',NULL,NULL,'8 0 delivered delivered',NULL,0,0,1796585752611,1796585752611,NULL);
INSERT INTO messages VALUES(4,2,6,'event:$b','matrix',NULL,'+4915112345678',NULL,'$b','hi',NULL,1,0,1796585752613,1796585752614,'9');
INSERT INTO messages VALUES(5,2,6,'event:$h1','matrix',NULL,'+4930222',NULL,'$h1','hi',NULL,1,0,1796585752614,1796585752615,'-');
INSERT INTO messages VALUES(6,2,6,'event:$h2','matrix',NULL,'+4930222',NULL,'$h2','hi',NULL,1,0,1796585752615,1796585752616,'-');
INSERT INTO messages VALUES(7,1,2,'hilink:40@/+4930222#af63bd4c8601b7df','hilink:report','40','+4930222',NULL,NULL,'-1 -1 delivered delivered',NULL,0,0,1796585752616,1796585752616,NULL);
INSERT INTO messages VALUES(8,1,2,'hilink:41@/+4930222#75c7315423bcc29c','hilink:text','41','+4930222',NULL,NULL,'hello from before',NULL,0,0,1796585752616,1796585752616,NULL);
CREATE TABLE kv (  key TEXT PRIMARY KEY,  value TEXT NOT NULL,  updated_at INTEGER NOT NULL);
INSERT INTO kv VALUES('bridge.dr.+4915112345678.7','1',1796585752606);
INSERT INTO kv VALUES('bridge.dr.+4915112345678.8','1',1796585752606);
INSERT INTO kv VALUES('bridge.store_id','894e5f0311982292',1796585752610);
INSERT INTO kv VALUES('bridge.dr.1.ok','7',1796585752610);
INSERT INTO kv VALUES('bridge.dr.+4915112345678.9','4',1796585752614);
INSERT INTO kv VALUES('bridge.dr.+4930222.fifo','5 6',1796585752616);
CREATE TABLE sms_parts (  group_key TEXT NOT NULL,  seq INTEGER NOT NULL CHECK (seq BETWEEN 1 AND 255),  originator TEXT,  reference INTEGER NOT NULL,  total INTEGER NOT NULL CHECK (total BETWEEN 1 AND 255),  pdu BLOB NOT NULL,  received_at INTEGER NOT NULL,  PRIMARY KEY (group_key, seq));
CREATE TABLE attachments (  msg_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,  seq INTEGER NOT NULL,  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),  size INTEGER NOT NULL,  content_type TEXT,  name TEXT,  PRIMARY KEY (msg_id, seq));
INSERT INTO attachments VALUES(2,0,'2f676e5b797a78a16f5d5cea833e1340ed7dba3bd0e5026853d6c9cf8fd70096',27,'application/octet-stream',NULL);
INSERT INTO attachments VALUES(3,0,'9b30d12b8013986be6a374d6a1ecbe13ba200e1c07172ba105e337c776cb4669',27,'application/octet-stream',NULL);
CREATE TABLE contacts (  number TEXT PRIMARY KEY,  display_name TEXT,  room TEXT UNIQUE,  updated_at INTEGER NOT NULL);
CREATE TABLE groups (  id INTEGER PRIMARY KEY,  members_key TEXT NOT NULL UNIQUE,  room TEXT NOT NULL UNIQUE,  updated_at INTEGER NOT NULL);
CREATE TABLE group_members (  group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,  number TEXT NOT NULL,  PRIMARY KEY (group_id, number));
CREATE TABLE screen_list (  list INTEGER NOT NULL CHECK (list IN (1, 2)),  number TEXT NOT NULL,  source INTEGER NOT NULL,  created_at INTEGER NOT NULL,  expires_at INTEGER NOT NULL DEFAULT 0,  PRIMARY KEY (list, number));
CREATE TABLE screen_attempts (  id INTEGER PRIMARY KEY,  number TEXT NOT NULL,  at INTEGER NOT NULL,  failed INTEGER NOT NULL);
CREATE TABLE calls (  id INTEGER PRIMARY KEY,  at INTEGER NOT NULL,  caller TEXT, attestation TEXT, verdict TEXT, challenge TEXT,  duration_ms INTEGER NOT NULL DEFAULT 0,  forward_target TEXT, called TEXT, rule TEXT, sip_status INTEGER NOT NULL DEFAULT 0, ended TEXT, source TEXT, count INTEGER NOT NULL DEFAULT 1);
CREATE TABLE numbers (  number TEXT PRIMARY KEY,  policy TEXT,  forward_target TEXT,  voicemail TEXT,  updated_at INTEGER NOT NULL);
CREATE INDEX attachments_sha256 ON attachments (sha256);
CREATE INDEX screen_attempts_number ON screen_attempts (number, at);
CREATE INDEX calls_at ON calls (at);
CREATE INDEX messages_queue ON messages (dir, state, id);
COMMIT;
