-- Which forums a proposal is on the agenda of: asked when a forum opens (a proposal another forum of the
-- level has taken up is left out) and when proposals are merged (refused once one is on an agenda).
CREATE INDEX forum_agenda_proposal ON forum_agenda (proposal) WHERE proposal IS NOT NULL;
