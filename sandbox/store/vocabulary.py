"""Words the generated catalogue is made of, and precomputed ordered draws of them."""

from __future__ import annotations

import itertools

from sandbox.store.common import slugify

# fmt: off
_ADJECTIVES = ("Classic", "Modern", "Vintage", "Organic", "Essential", "Premium", "Rustic", "Urban",
               "Coastal", "Nordic", "Handmade", "Everyday", "Deluxe", "Compact", "Artisan", "Heritage",
               "Café", "Smith's")
_MATERIALS = ("Cotton", "Linen", "Ceramic", "Oak", "Steel", "Glass", "Wool", "Leather", "Bamboo", "Copper",
              "Marble", "Canvas", "Stoneware", "Walnut", "Silk", "Enamel")
_NOUNS = ("Tee", "Mug", "Journal", "Towel", "Lamp", "Jar", "Tote", "Throw", "Vase", "Bowl", "Chair", "Candle",
          "Planter", "Apron", "Basket", "Blanket", 'Record 12"', "Cutting Board", "Kettle", "Backpack")
_DESCRIPTIONS = tuple(
    f"<p><span>{text}</span></p>" if text else ""
    for text in (
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
        "Made to last, designed for everyday use. Machine washable.",
        "Hand finished in small batches; every piece is slightly different.",
        "Ships in recycled packaging. Care: wipe clean with a damp cloth.",
        "A customer favourite &mdash; now in more colours.",
        "",
    )
)
_OPTIONS = (("Size", ("XS", "S", "M", "L", "XL", "XXL")),
            ("Color", ("Red", "Blue", "Black", "Beige", "Grey", "Green", "Navy")),
            ("Material", ("Cotton", "Linen", "Wool", "Silk")),
            ("Capacity", ("250 ml", "500 ml", "1 L")),
            ("Finish", ("Matte", "Gloss", "Satin")))
_CUSTOM_FIELDS = (("Material", ("Cotton", "Linen", "Recycled polyester", "Stoneware")),
                  ("Origin", ("Portugal", "Japan", "United Kingdom", "Vietnam")),
                  ("Care", ("Hand wash", "Machine wash 30°C", "Dishwasher safe")),
                  ("Warranty", ("1 year", "2 years", "Lifetime")),
                  ("ISBN", ("1234567890123", "9780306406157")),
                  ("Feature", ("Waterproof", "Vegan", "Fair trade", "Gift boxed")))
_TOP_CATEGORIES = ("Shop All", "Apparel", "Home", "Kitchen", "Garden", "Bath", "Outdoors", "Toys", "Books",
                   "Electronics", "Beauty", "Sports", "Office", "Pets", "Music", "Publications", "Utility")
_SUB_CATEGORIES = ("New In", "Sale", "Women", "Men", "Kids", "Accessories", "Storage", "Lighting", "Textiles",
                   "Tableware", "Cookware", "Tools", "Plants", "Decor", "Gifts", "Essentials", "Bestsellers",
                   "Limited Edition", "Clearance", "Bundles", "Travel", "Workwear", "Seasonal", "Basics")
_BRANDS = ("Sagaform", "OFS", "Common Good", "Le Parfait", "Fog Linen", "Able Brewing", "Northwind",
           "Hearth & Co", "Kinto", "Tivoli", "Barebones", "Chemex", "Fellow", "Hay", "Muji", "Stelton",
           "Iittala", "Marimekko",
           "Smeg", "Bodum", "Ferm Living", "Normann", "Menu", "Georg Jensen", "Rosti", "Eva Solo", "Zone",
           "Vipp", "Gubi", "Louis Poulsen")
# fmt: on

_SLUGS = {word: slugify(word) for word in (*_ADJECTIVES, *_MATERIALS, *_NOUNS)}
# precomputed ordered draws (random.sample is slow: it checks its argument against collections.abc)
_CUSTOM_FIELD_DRAWS = [p for k in (1, 2, 3) for p in itertools.permutations(_CUSTOM_FIELDS, k)]
_OPTION_DRAWS = [list(itertools.permutations(_OPTIONS, 1)), list(itertools.permutations(_OPTIONS, 2))]
_LABEL_DRAWS = {
    name: [p for k in (2, 3) for p in itertools.permutations(labels, k)] for name, labels in _OPTIONS
}
