// placeholder so the library is never empty; pure codecs live beside it.
namespace tlsfence::parse {
int parse_module_anchor() { return 0; }
}  // namespace tlsfence::parse
