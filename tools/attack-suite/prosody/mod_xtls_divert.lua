-- mod_xtls_divert: a compromised server, for the attack suite only (tools/attack-suite).
-- Loaded by that suite's own Prosody (PROSODY_EXTRA_MODULES), never by the shared test server.
--
-- An attacker client (tools/attack-suite/src/attacker.ts) switches it at run time:
--   <iq type='set' to='HOST'><divert xmlns='urn:xtls:test:divert' mode='off|observe|divert'
--        victims='romeo@montague.lit juliet@capulet.lit'/></iq>
-- makes the sender of that IQ the attacker. Then every stanza one victim sends to a full JID of
-- the other (IQs, messages, presence) is
--   observe: copied to the attacker and delivered as usual;
--   divert:  handed to the attacker only, wrapped as
--            <message><diverted xmlns='urn:xtls:test:divert'>the stanza, from and to intact</diverted></message>.
-- The attacker puts stanzas on the wire as anyone (to relay them unchanged, rewritten, or
-- to answer itself) with
--   <message to='HOST'><inject xmlns='urn:xtls:test:divert'>the stanza with any from</inject></message>
-- which this module unwraps and routes as if the server had received it from that sender.
-- When the attacker's session ends, the mode goes back to off.
local st = require "util.stanza";
local jid_bare = require "util.jid".bare;

local NS = "urn:xtls:test:divert";
-- One state for every host this module is loaded on (the victims are on different hosts).
local state = module:shared("/*/xtls_divert/state");

local function is_victim(jid)
	return jid ~= nil and state.victims ~= nil and state.victims[jid_bare(jid)] == true;
end

local function divert(event)
	local origin, stanza = event.origin, event.stanza;
	local mode = state.mode or "off";
	if mode == "off" or not state.attacker or origin.type ~= "c2s" then return nil; end
	local from = stanza.attr.from or origin.full_jid;
	local to = stanza.attr.to;
	if not (is_victim(from) and is_victim(to)) or jid_bare(from) == jid_bare(to) then return nil; end
	local copy = st.clone(stanza);
	copy.attr.from = from;
	copy.attr.xmlns = nil;
	module:send(st.message({ from = module.host, to = state.attacker, type = "normal" })
		:tag("diverted", { xmlns = NS, mode = mode }):add_child(copy):up());
	if mode == "observe" then return nil; end
	return true; -- diverted: the addressee never sees it
end

for _, name in ipairs({ "iq", "message", "presence" }) do
	module:hook("pre-" .. name .. "/full", divert, 1000);
end

module:hook("iq-set/host/" .. NS .. ":divert", function(event)
	local origin, stanza = event.origin, event.stanza;
	local divert_el = stanza.tags[1];
	local mode = divert_el.attr.mode;
	if mode ~= "off" and mode ~= "observe" and mode ~= "divert" then
		origin.send(st.error_reply(stanza, "modify", "bad-request", "mode is off, observe or divert"));
		return true;
	end
	local victims = {};
	for jid in (divert_el.attr.victims or ""):gmatch("%S+") do victims[jid_bare(jid)] = true; end
	state.mode, state.victims, state.attacker = mode, victims, origin.full_jid;
	module:log("info", "diversion %s to %s", mode, origin.full_jid);
	origin.send(st.reply(stanza));
	return true;
end);

module:hook("message/host", function(event)
	local origin, stanza = event.origin, event.stanza;
	local inject = stanza:get_child("inject", NS);
	if not inject then return nil; end
	if origin.full_jid == nil or origin.full_jid ~= state.attacker then return true; end
	for inner in inject:childtags() do
		local copy = st.clone(inner);
		copy.attr.xmlns = nil;
		module:send(copy);
	end
	return true;
end, 100);

module:hook("resource-unbind", function(event)
	if event.session.full_jid == state.attacker then
		state.mode, state.attacker = "off", nil;
	end
end);
