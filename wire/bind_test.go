package wire

import (
	"errors"
	"reflect"
	"testing"
)

type item struct {
	User struct {
		ID       string         `php:"id"`
		Name     string         `php:"name"`
		LastName string         `php:"last_name"`
		Extra    map[string]any `php:",rest"`
	} `php:"user"`
	Message struct {
		ID    string `php:"id"`
		Date  int64  `php:"date"`
		Text  string `php:"text"`
		Files []file `php:"files"`
	} `php:"message"`
	Chat     *struct{ ID string } `php:"chat"`
	Flag     bool                 `php:"flag"`
	Score    float64              `php:"score"`
	Raw      any                  `php:"raw"`
	Params   map[string]string    `php:"params"`
	Ordered  *Map                 `php:"ordered"`
	Small    uint8                `php:"small"`
	Unknowns int                  `php:"-"`
}

func TestBindItem(t *testing.T) {
	t.Parallel()
	src, err := unserialize(`a:9:{s:4:"user";a:3:{s:2:"id";i:291;s:4:"name";s:4:"Anna";s:5:"phone";s:3:"123";}` +
		`s:7:"message";a:4:{s:2:"id";s:3:"m-1";s:4:"date";s:10:"1700000000";s:4:"text";s:0:"";s:5:"files";a:1:{i:5;a:1:{s:3:"url";s:1:"u";}}}` +
		`s:4:"CHAT";a:1:{s:2:"id";s:4:"c/1;";}s:4:"flag";s:1:"0";s:5:"score";i:3;s:3:"raw";a:1:{i:0;b:1;}` +
		`s:6:"params";a:2:{s:1:"a";s:1:"x";i:1;i:2;}s:7:"ordered";a:1:{i:0;N;}s:5:"small";i:200;}`)
	if err != nil {
		t.Fatal(err)
	}
	var it item
	if err := Bind(src, &it); err != nil {
		t.Fatal(err)
	}
	if it.User.ID != "291" || it.User.Name != "Anna" || it.User.Extra["phone"] != "123" {
		t.Errorf("user = %+v", it.User)
	}
	if it.Message.Date != 1700000000 || it.Message.ID != "m-1" || len(it.Message.Files) != 1 || it.Message.Files[0].URL != "u" {
		t.Errorf("message = %+v", it.Message)
	}
	if it.Chat == nil || it.Chat.ID != "c/1;" {
		t.Errorf("chat (matched ignoring case) = %+v", it.Chat)
	}
	if it.Flag || it.Score != 3 || !reflect.DeepEqual(it.Raw, []any{true}) || it.Params["1"] != "2" || it.Ordered.Len() != 1 || it.Small != 200 {
		t.Errorf("item = %+v", it)
	}
}

func TestBindErrors(t *testing.T) {
	t.Parallel()
	var n int
	var u8 uint8
	var s string
	var list []string
	for _, tc := range []struct {
		src any
		dst any
	}{
		{"abc", &n},
		{1.5, &n},
		{int64(300), &u8},
		{int64(-1), &u8},
		{[]any{"x"}, &s},
		{"text", &list},
		{int64(1), &list},
	} {
		err := Bind(tc.src, tc.dst)
		if err == nil || !errors.Is(err, CodeBadPacket) {
			t.Errorf("Bind(%#v, %T) = %v, want a BAD_PACKET BindError", tc.src, tc.dst, err)
		}
	}
	if err := Bind("x", s); err == nil {
		t.Error("Bind into a non-pointer must fail")
	}
	var path item
	err := Bind(NewMap("message", NewMap("date", "yesterday")), &path)
	var be *BindError
	if !errors.As(err, &be) || be.Path != "message.date" {
		t.Fatalf("err = %v, want a BindError at message.date", err)
	}
}

func TestBindEmptyValues(t *testing.T) {
	t.Parallel()
	var it item
	if err := Bind("", &it); err != nil {
		t.Fatal(err)
	}
	var list []int
	if err := Bind(nil, &list); err != nil || list != nil {
		t.Fatal(list, err)
	}
	var p *int
	if err := Bind("", &p); err != nil || p != nil {
		t.Fatal(p, err)
	}
}

func TestKeyString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key  any
		want string
	}{
		{"name", "name"}, {"", ""}, {int64(-12), "-12"}, {int64(1700000000), "1700000000"}, {7, "7"},
		{uint8(3), "3"}, {true, "true"},
	} {
		if got := KeyString(tc.key); got != tc.want {
			t.Errorf("KeyString(%#v) = %q, want %q", tc.key, got, tc.want)
		}
	}
}
