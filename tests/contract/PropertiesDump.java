// Reads .properties files with java.util.Properties, as eggroll, FATE-Board and FATE-Serving do, and prints each
// file's keys and values as one JSON object per line (the tests compare them with the configured values).
import java.io.FileInputStream;
import java.io.InputStream;
import java.util.Properties;
import java.util.TreeSet;

public class PropertiesDump {
    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    public static void main(String[] args) throws Exception {
        for (String path : args) {
            Properties p = new Properties();
            try (InputStream in = new FileInputStream(path)) {
                p.load(in);
            }
            StringBuilder out = new StringBuilder("{");
            for (String key : new TreeSet<>(p.stringPropertyNames())) {
                if (out.length() > 1) out.append(',');
                out.append(quote(key)).append(':').append(quote(p.getProperty(key)));
            }
            System.out.println(out.append('}'));
        }
    }
}
