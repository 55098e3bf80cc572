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
	fmt.Println(c.ToIcons("Delivered 🇷🇺 :flag_ru: at 10:30:45, see https://example.com/:x:"))
	// Output: Delivered [ICON=/bitrix/images/emoji/1f1f7-1f1fa.svg?v=2.2.5 title=:ru:] [ICON=/bitrix/images/emoji/1f1f7-1f1fa.svg?v=2.2.5 title=:flag_ru:] at 10:30:45, see https://example.com/:x:
}

func ExampleConverter_FromIcons() {
	c := emoji.New()
	fmt.Println(c.FromIcons("Thanks [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:] [ICON=/bitrix/images/emoji/2764.svg?v=2.2.5 title=:heart:]"))
	// Output: Thanks 👍 ❤️
}

func ExampleWithSmileys() {
	c := emoji.New(emoji.WithSmileys(true))
	fmt.Println(c.ToIcons("ok :) but not:)"))
	// Output: ok [ICON=/bitrix/images/emoji/1f642.svg?v=2.2.5 title=:slight_smile:] but not:)
}

func ExampleConverter_IconTag() {
	tag, ok := emoji.New().IconTag("👍🏽")
	fmt.Println(tag, ok)
	// Output: [ICON=/bitrix/images/emoji/1f44d-1f3fd.svg?v=2.2.5 title=:thumbsup_tone3:] true
}
