from wardgate.evaluation import GoldSpan, span_metrics


def test_iou_matching_per_type_and_masked_share():
    gold = [[GoldSpan(0, 10, "PERSON"), GoldSpan(20, 30, "EMAIL_ADDRESS"), GoldSpan(40, 50, "PERSON")]]
    predicted = [[
        GoldSpan(0, 8, "PERSON"),  # IoU 0.8: a hit
        GoldSpan(20, 30, "URL"),  # wrong type: not a hit for EMAIL, but the email is still masked
        GoldSpan(40, 44, "PERSON"),  # IoU 0.4: a miss, and under half covered
        GoldSpan(60, 65, "PERSON"),  # nothing there
    ]]  # fmt: skip
    metrics = span_metrics(gold, predicted)
    person = metrics["entities"]["PERSON"]
    assert (person["support"], person["predicted"], person["precision"], person["recall"]) == (2, 3, 0.3333, 0.5)
    assert person["masked"] == 0.5
    email = metrics["entities"]["EMAIL_ADDRESS"]
    assert (email["recall"], email["f1"], email["masked"], email["precision"]) == (0.0, 0.0, 1.0, None)
    assert metrics["entities"]["URL"]["support"] == 0
    assert metrics["overall"]["support"] == 3
    assert metrics["overall"]["recall"] == 0.3333


def test_one_prediction_matches_one_gold_span():
    gold = [[GoldSpan(0, 10, "PERSON"), GoldSpan(0, 10, "PERSON")]]
    metrics = span_metrics(gold, [[GoldSpan(0, 10, "PERSON")]])
    assert metrics["entities"]["PERSON"]["recall"] == 0.5
