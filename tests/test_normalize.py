import pytest

from cur_nlp.normalize import normalize_text

GOLDEN = [
    ("[id123|Иван Петров], когда уберут снег?", "Иван Петров, когда уберут снег?"),
    ("[club45678|Администрация района] помогите!!!!!!", "Администрация района помогите!!!"),
    ("<p>Во дворе&nbsp;яма</p><p>огромная &laquo;ловушка&raquo;</p>", "Во дворе яма огромная «ловушка»"),
    ("&lt;b&gt;Жирный&lt;/b&gt; текст", "Жирный текст"),
    ("Фото тут: https://vk.com/photo123_456 и www.example.ru/page", "Фото тут: <url> и <url>"),
    ("Пишите на ivanov.petr@mail.ru или звоните +7 (912) 345-67-89", "Пишите на <email> или звоните <phone>"),
    ("Телефон 8-912-345-67-89, звоните", "Телефон <phone>, звоните"),
    ("Сколько можно?????? 😡😡😡", "Сколько можно??? 😡😡😡"),
    ("Нет воды.......", "Нет воды..."),
    ("  много   пробелов\n\nи строк\t табы ", "много пробелов и строк табы"),
    ("Дом 5 корп. 2, кв. 17 — ЗАЛИВАЕТ", "Дом 5 корп. 2, кв. 17 — ЗАЛИВАЕТ"),
    ("", ""),
]


@pytest.mark.parametrize("raw,expected", GOLDEN)
def test_golden_table(raw, expected):
    assert normalize_text(raw) == expected


def test_keep_newlines():
    assert normalize_text("строка 1<br>строка 2", keep_newlines=True) == "строка 1\nстрока 2"


def test_control_characters_removed():
    assert normalize_text("нет\x00 воды\x07") == "нет воды"


def test_rejects_non_string():
    with pytest.raises(TypeError, match="expects str"):
        normalize_text(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- hygiene (issue 22)

from cur_nlp.normalize import decode_text, replace_surrogates, strip_invisible  # noqa: E402


def test_lone_surrogates_become_replacement_characters_of_the_same_length():
    text = "люк \ud83d открыт \udfff"
    repaired = replace_surrogates(text)
    assert repaired == "люк \ufffd открыт \ufffd" and len(repaired) == len(text)
    repaired.encode("utf-8")  # encodable: what crashed the tokenizer and the writers before
    assert normalize_text(text) == "люк \ufffd открыт \ufffd"


@pytest.mark.parametrize("invisible", ["\u200d", "\u200c", "\u2060", "\ufeff", "\u200e\u200f", "\u00ad", "\u3164",
                                       "\u2800", "\u202e", "\U000e0041", "\u200b\u200d\ufeff"])
def test_invisible_only_text_normalises_to_nothing(invisible):
    assert normalize_text(invisible * 3) == ""
    assert normalize_text(f"\ufeffнет{invisible}воды") in ("нетводы", "нет воды")


def test_bom_and_zero_width_characters_are_dropped_inside_words():
    assert strip_invisible("\ufeffлю\u200dк\u2060") == "люк"
    assert normalize_text("\ufeffОткрыт\u200b люк") == "Открыт люк"  # a zero-width space is a space


def test_invalid_utf8_is_replaced_and_its_offset_reported():
    assert decode_text("люк".encode()) == ("люк", None)
    text, offset = decode_text(b"ok \xff\xfe \xd0\xbb")
    assert text == "ok \ufffd\ufffd л" and offset == 3
