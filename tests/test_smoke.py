def test_stats_counts_empty_partnership(db):
    from onecase.reports.selectors import partnership_totals

    assert partnership_totals() == {"agencies": 0, "source_people": 0, "contacts": 0, "people": 0, "households": 0}
