"""How a message becomes tokens: character n-grams and words found through a lexicon."""

from __future__ import annotations

import pytest

from gridgov.ai.features import Features, Lexicon, char_ngrams, lexicon_words


def test_lexicon_words_are_every_stretch_of_the_text_found_in_the_lexicon_overlaps_included() -> (
    None
):
    lexicon = {"劳动", "仲裁", "劳动仲裁", "工资"}
    assert lexicon_words("申请劳动仲裁，讨要工资", lexicon) == ["劳动", "劳动仲裁", "仲裁", "工资"]


def test_lexicon_words_never_run_across_punctuation_and_respect_the_sizes() -> None:
    assert lexicon_words("劳，动", {"劳动"}) == []
    assert lexicon_words("劳动仲裁", {"劳动仲裁"}, sizes=(2, 3)) == []
    assert lexicon_words("ＡＢ路灯", {"ab", "路灯"}) == ["ab", "路灯"]


def test_an_empty_lexicon_finds_no_word_but_characters_are_still_read() -> None:
    title, body, words = Features().tokens("路灯坏了", "晚上很黑")
    assert words == []
    assert "路灯" in title and "很黑" in body


def test_words_are_read_beyond_the_body_characters_up_to_word_chars() -> None:
    features = Features(body_chars=5, word_chars=20)
    body = "一二三四五六七八九十拖欠工资"
    _, chars, words = features.tokens("求助", body, Lexicon({"拖欠", "工资"}))
    assert "工资" not in chars
    assert words == ["拖欠", "工资"]
    assert Features(word_chars=10).tokens("求助", body, Lexicon({"工资"}))[2] == []


def test_training_segments_with_jieba_into_words_of_the_lexicon_sizes() -> None:
    found = Features().segment("公司拖欠工资", "申请劳动仲裁")
    assert {"拖欠工资", "申请"} <= found
    assert all(2 <= len(w) <= 4 for w in found)


def test_features_round_trip_through_json_and_old_files_read_as_jieba() -> None:
    features = Features(body_chars=200, word_chars=500)
    assert Features.from_json(features.to_json()) == features
    old = {"char_ngrams": [1, 3], "body_chars": 300, "word_chars": 60, "block_weights": [1, 1, 1]}
    legacy = Features.from_json(old)
    assert legacy.words == "jieba" and legacy.word_chars == 60
    assert (
        legacy.tokens("公司拖欠工资", "公司拖欠工资", Lexicon({"拖欠"}))[2]
        == ["公司", "拖欠工资"] * 2
    )


def test_an_unknown_word_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="words is 'bpe'"):
        Features(words="bpe")


def test_char_ngrams_stay_within_runs() -> None:
    assert char_ngrams("井盖，没了", (2, 2)) == ["井盖", "没了"]


def test_a_lexicon_keeps_only_words_of_its_sizes() -> None:
    lexicon = Lexicon({"井", "井盖", "雨水井盖", "污水井盖丢失"})
    assert len(lexicon) == 2 and "井盖" in lexicon and "井" not in lexicon
    assert lexicon.find("雨水井盖没了") == ["雨水井盖", "井盖"]
