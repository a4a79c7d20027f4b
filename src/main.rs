fn main() {
    std::process::exit(tf_pin::cli::run());
}
