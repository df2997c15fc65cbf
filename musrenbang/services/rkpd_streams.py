"""The streams of a year's city level (`rkpd-{year}`) and of its adopted lines' realisation, as the services
that decide on them load them: here, apart from services/rkpd.py, because the services it uses (proposals)
read them too."""

from __future__ import annotations

from musrenbang.domain import realisation as realisation_rules
from musrenbang.domain import rkpd as rules
from musrenbang.services.streams import Aggregate

RKPD: Aggregate[rules.Rkpd, rules.Command] = Aggregate(
    rules.Rkpd(), lambda state, command: rules.decide(state, command, agencies={}), rules.evolve, cached=100_000
)
"""Only for loading a year's state: deciding needs the city's agencies (`RkpdService.execute`). Years'
states are kept between commands (services/streams.py), so a command under the year's lock reads only
the events since the last one instead of the whole year: it costs the same in December as in March."""
LINE: Aggregate[realisation_rules.LineProgress, realisation_rules.RecordMilestone] = Aggregate(
    realisation_rules.LineProgress(), lambda state, command: [], realisation_rules.evolve
)
"""Only for loading an adopted line's progress: deciding needs the adopted line and the day
(services/realisation.py)."""
