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
