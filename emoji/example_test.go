package emoji_test

import (
	"fmt"

	"github.com/olctl/olctl/emoji"
)

func ExampleNew() {
	c := emoji.New(emoji.WithBasePath("https://cdn.example.com/emoji"), emoji.WithVersion("3"))
	fmt.Println(c.ToIcons("Thanks :+1:"))
	// Output: Thanks [ICON=https://cdn.example.com/emoji/1f44d.svg?v=3 title=:+1:]
}

func ExampleConverter_ToIcons() {
	c := emoji.New()
	fmt.Println(c.ToIcons("Delivered 🇷🇺 :flag_ru: #️⃣ :) at 10:30, see https://example.com/:x:"))
	// Output: Delivered [ICON=/bitrix/images/emoji/1f1f7-1f1fa.svg?v=2.2.5 title=:flag_ru:] [ICON=/bitrix/images/emoji/1f1f7-1f1fa.svg?v=2.2.5 title=:flag_ru:] [ICON=/bitrix/images/emoji/0023-20e3.svg?v=2.2.5 title=:hash:] [ICON=/bitrix/images/emoji/1f642.svg?v=2.2.5 title=:)] at 10:30, see https://example.com/:x:
}

func ExampleConverter_FromIcons() {
	c := emoji.New()
	fmt.Println(c.FromIcons("Thanks [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:] [ICON=/bitrix/images/emoji/2764.svg?v=2.2.5 title=:heart:]"))
	// Output: Thanks 👍 ❤️
}

func ExampleWithIcons() {
	current := emoji.New(emoji.WithIcons(false)) // as a current Bitrix portal: hex escapes decoded, Unicode kept
	fmt.Println(current.ToIcons("ok :F09F918D: 👍 :+1:"))
	// Output: ok 👍 👍 :+1:
}

func ExampleWithSmileys() {
	c := emoji.New(emoji.WithSmileys(false))
	fmt.Println(c.ToIcons(":) <3 :heart:"))
	// Output: :) <3 [ICON=/bitrix/images/emoji/2764.svg?v=2.2.5 title=:heart:]
}

func ExampleDecodeHex() {
	fmt.Println(emoji.DecodeHex("ok :F09F918D: :12345678:"))
	// Output: ok 👍 :12345678:
}

func ExampleConverter_IconTag() {
	tag, ok := emoji.New().IconTag("👍🏽")
	fmt.Println(tag, ok)
	// Output: [ICON=/bitrix/images/emoji/1f44d-1f3fd.svg?v=2.2.5 title=:thumbsup_tone3:] true
}
